// Login, logout and communicate (see SessionRoutes.h). Wire format and error strings follow
// seed 002 (ServerAPI) and DESIGN.md §6.
#include "SessionRoutes.h"

#include <Poco/Logger.h>

#include "switchboard/Json.h"
#include "switchboard/Lua.h"

namespace switchboard::auth {

namespace {

/// 400 with the seed's error string, and what exactly is wrong in "detail".
void badLogin(HttpResponse& resp, const std::string& detail) {
    resp.json(400, "{\"error\":" + json::quote(kInvalidCredentials) +
                       ",\"detail\":" + json::quote(detail) + "}");
}

bool truthy(const rapidjson::Value& v) {
    return !v.IsNull() && !(v.IsBool() && !v.GetBool());
}

}  // namespace

void SessionRoutes::login(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    rapidjson::Document body;
    std::string error;
    if (!json::parseBody(req, body, error)) {
        badLogin(resp, error);
        return;
    }
    std::string login;
    const char* field =
        body.HasMember("username") && !body["username"].IsNull() ? "username" : "email";
    std::string password;
    if (!json::requireString(body, field, login, error)) {
        badLogin(resp, field == std::string("email") && error.rfind("missing", 0) == 0
                           ? "missing key: username or email"
                           : error);
        return;
    }
    if (!json::requireString(body, "password", password, error)) {
        badLogin(resp, error);
        return;
    }
    try {
        AuthResult result = rt.accounts->authenticate(login, password, req.clientAddress());
        if (result.status == AuthResult::Status::RateLimited) {
            resp.setHeader("Retry-After", std::to_string(result.retryAfter));
            resp.error(429, "Too many failed login attempts. Try again later.");
            return;
        }
        if (result.status != AuthResult::Status::Ok) {
            resp.error(401, kInvalidCredentials);
            return;
        }
        const Identity& user = result.identity;
        SessionManager::Login session =
            rt.sessions->create(user.id, user.login(), req.clientAddress());
        resp.addHeader("Set-Cookie", sessionCookie(*_config, req, session.cookie));
        resp.json(200, "{\"access_token\":" + json::quote(session.jwt.token) +
                           ",\"token_type\":\"bearer\",\"message\":\"Login successful.\"}");
    } catch (const AccountError& e) {
        e.answer(resp);
    } catch (const std::exception& e) {
        rt.context->logger().error("login failed: %s", std::string(e.what()));
        resp.storeUnavailable("account store unavailable");
    }
}

void SessionRoutes::logout(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    bool done = false;
    std::string cookie = req.cookie(kCookieName);
    if (!cookie.empty()) {
        if (auto s = rt.sessions->use(cookie)) {
            done = rt.sessions->revoke(s->id, "logout");
        }
    }
    std::string token = req.bearerToken();
    if (!token.empty()) {
        std::string reason;
        if (auto b = rt.accounts->bearer(token, reason)) {
            rt.tokens->revoke(b->claims.jti, b->claims.expires);
            if (!b->claims.sessionId.empty()) {
                rt.sessions->revoke(b->claims.sessionId, "logout");
            }
            done = true;
        }
    }
    if (!done) {
        resp.error(401, kInvalidSession);
        return;
    }
    if (!cookie.empty()) {
        resp.addHeader("Set-Cookie", expiredCookie(*_config, req));
    }
    resp.json(200, "{\"message\":\"Logout successful.\"}");
}

void SessionRoutes::communicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt,
                                bool native) {
    std::string cookie = req.cookie(kCookieName);
    std::optional<SessionInfo> session = rt.sessions->use(cookie);
    if (!session) {
        resp.error(401, kInvalidSession);
        return;
    }
    rapidjson::Document data;
    if (req.body().empty()) {
        data.SetObject();
    } else if (!json::readBody(req, data, resp)) {
        return;
    }
    if (json::depth(data) > Lua::kMaxDepth) {
        // The hook could not take it: the client's mistake, not a hook failure to warn about.
        resp.error(
            400, "body is nested too deeply (limit " + std::to_string(Lua::kMaxDepth) + " levels)");
        return;
    }
    if (native) {
        resp.json(200, json::stringify(data));
        return;
    }
    // The strings outlive the call: reference them instead of copying.
    rapidjson::Value username(rapidjson::StringRef(session->login.data(), session->login.size()));
    rapidjson::Value token(rapidjson::StringRef(cookie.data(), cookie.size()));
    // A fourth argument beyond the seed's three: the session's public id, the `id` that
    // session_valid(session) sees, so scripts can tie the two hooks together.
    rapidjson::Value sessionId(rapidjson::StringRef(session->id.data(), session->id.size()));
    // No hasHook() first: an undefined hook is reported by the call itself (and not logged).
    LuaResult result =
        rt.context->lua().call("on_communicate", {&username, &token, &data, &sessionId});
    if (!result.ok) {
        if (result.error == "hook not defined") {
            resp.error(501, "no on_communicate hook is defined (see docs/plugins/auth.md)");
        } else {
            resp.error(500, "communicate hook failed");
        }
        return;
    }
    applyHookResult(result, *session, req, resp, rt);
}

void SessionRoutes::applyHookResult(const LuaResult& result, const SessionInfo& session,
                                    const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    const rapidjson::Value& v = result.values;
    bool forceClose = v.Size() > 0 && truthy(v[0]);
    bool forceLogout = v.Size() > 1 && truthy(v[1]);
    std::string body = "{}";
    if (v.Size() > 2 && !v[2].IsNull()) {
        if (!v[2].IsObject() && !v[2].IsArray()) {
            rt.context->logger().warning(
                "on_communicate returned a %s as its response; expected a table",
                std::string(v[2].IsString() ? "string"
                            : v[2].IsBool() ? "boolean"
                                            : "number"));
            resp.error(500, "communicate hook returned an invalid response");
            return;
        }
        body = json::stringify(v[2]);
    }
    if (forceLogout) {
        rt.sessions->revoke(session.id, "force_logout");
        resp.addHeader("Set-Cookie", expiredCookie(*_config, req));
    }
    if (forceClose) {
        resp.closeAfter();
    }
    resp.json(200, std::move(body));
}

}  // namespace switchboard::auth
