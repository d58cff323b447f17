// Shared handler helpers (see RouteSupport.h).
#include "RouteSupport.h"

#include <Poco/Logger.h>

namespace switchboard::auth {

std::optional<Caller> authenticateRequest(const HttpRequest& req, HttpResponse& resp,
                                          const Runtime& rt) {
    std::string cookie = req.cookie(kCookieName);
    if (!cookie.empty()) {
        if (auto s = rt.sessions->use(cookie)) {
            return Caller{s->userId, s->login, s->id, "", 0};
        }
    }
    std::string token = req.bearerToken();
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

}  // namespace switchboard::auth
