// Shared handler helpers (see RouteSupport.h).
#include "RouteSupport.h"

#include <Poco/Logger.h>
#include <Poco/String.h>

#include "switchboard/Json.h"

namespace switchboard::auth {

std::string bearerToken(const HttpRequest& req) {
    std::string header = req.header("Authorization");
    if (header.size() > 7 && Poco::icompare(header.substr(0, 7), "bearer ") == 0) {
        return Poco::trim(header.substr(7));
    }
    return {};
}

std::optional<Caller> authenticateRequest(const HttpRequest& req, HttpResponse& resp,
                                          const Runtime& rt) {
    std::string cookie = req.cookie(kCookieName);
    if (!cookie.empty()) {
        if (auto s = rt.sessions->use(cookie)) {
            return Caller{s->userId, s->login, s->id, "", 0};
        }
    }
    std::string token = bearerToken(req);
    if (!token.empty()) {
        std::string reason;
        if (auto b = rt.accounts->bearer(token, reason)) {
            Caller caller{b->identity.id, b->identity.login(), "", b->claims.jti,
                          b->claims.expires};
            if (!b->claims.sessionId.empty() && rt.sessions->find(b->claims.sessionId)) {
                caller.sessionId = b->claims.sessionId;
            }
            return caller;
        }
        rt.context->logger().debug("bearer token refused: %s", reason);
    }
    resp.error(401, !cookie.empty()  ? kInvalidSession
                    : !token.empty() ? "Invalid token."
                                     : "Authentication required.");
    return std::nullopt;
}

std::string sessionCookie(const AuthConfig& config, const HttpRequest& req,
                          const std::string& value) {
    std::string cookie = std::string(kCookieName) + "=" + value + "; HttpOnly";
    switch (config.sameSite) {
        case AuthConfig::SameSite::Strict:
            cookie += "; SameSite=Strict";
            break;
        case AuthConfig::SameSite::Lax:
            cookie += "; SameSite=Lax";
            break;
        case AuthConfig::SameSite::None:
            break;  // the seed's "None": no SameSite attribute
    }
    cookie += "; Path=/";
    if (req.secure() || config.cookieAlwaysSecure) {
        cookie += "; Secure";
    }
    return cookie;
}

std::string expiredCookie(const AuthConfig& config, const HttpRequest& req) {
    return sessionCookie(config, req, "") + "; Max-Age=0";
}

void answer(HttpResponse& resp, const AccountError& e) {
    switch (e.code()) {
        case AccountError::Code::InvalidInput:
            resp.error(400, e.what());
            return;
        case AccountError::Code::Duplicate:
            resp.error(409, e.what());
            return;
        case AccountError::Code::NotFound:
            resp.error(404, e.what());
            return;
        case AccountError::Code::ReadOnly:
            resp.error(403, e.what());
            return;
        case AccountError::Code::Unavailable:
            resp.error(503, e.what());
            return;
    }
    resp.error(500, e.what());
}

bool readBody(const HttpRequest& req, rapidjson::Document& body, HttpResponse& resp) {
    std::string error;
    if (!json::parseObject(req.body(), body, error)) {
        resp.error(400, error);
        return false;
    }
    return true;
}

}  // namespace switchboard::auth
