// Account upkeep handlers (see AccountRoutes.h). Every error is {"error": "<what is wrong>"}.
#include "AccountRoutes.h"

#include <Poco/Logger.h>

#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {

/// Runs a handler body, answering AccountError with its status and anything else as a failing
/// store.
template <class Fn>
void guard(HttpResponse& resp, const Runtime& rt, Fn fn) {
    try {
        fn();
    } catch (const AccountError& e) {
        e.answer(resp);
    } catch (const std::exception& e) {
        rt.context->logger().error("account operation failed: %s", std::string(e.what()));
        resp.storeUnavailable("account store unavailable");
    }
}

/// {"id": 1, "email": "...", "username": "..."}, null for an absent email or username.
std::string identityJson(const Identity& user) {
    auto optional = [](const std::string& text) {
        return text.empty() ? std::string("null") : json::quote(text);
    };
    return "{\"id\":" + std::to_string(user.id) + ",\"email\":" + optional(user.email) +
           ",\"username\":" + optional(user.username) + "}";
}

}  // namespace

void AccountRoutes::registerAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    rapidjson::Document body;
    std::string error, email, password, username;
    if (!json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "email", email, error) ||
        !json::requireString(body, "password", password, error) ||
        !json::optionalString(body, "username", username, error)) {
        resp.error(400, error);
        return;
    }
    if (body.HasMember("username") && body["username"].IsString() && username.empty()) {
        resp.error(400, "username must not be empty");
        return;
    }
    guard(resp, rt,
          [&] { resp.json(201, identityJson(rt.accounts->create(username, email, password))); });
}

void AccountRoutes::me(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::optional<Caller> caller = authenticateRequest(req, resp, rt);
    if (!caller) {
        return;
    }
    guard(resp, rt, [&] {
        std::optional<Identity> user = rt.accounts->findById(caller->userId);
        if (!user) {
            resp.error(401, "Authentication required.");
            return;
        }
        resp.json(200, identityJson(*user));
    });
}

bool AccountRoutes::confirm(const Caller& caller, const std::string& password,
                            const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    AuthResult check = rt.accounts->checkPassword(caller.userId, password, req.clientAddress());
    if (check.status == AuthResult::Status::RateLimited) {
        resp.setHeader("Retry-After", std::to_string(check.retryAfter));
        resp.error(429, "Too many failed password attempts. Try again later.");
        return false;
    }
    if (check.status != AuthResult::Status::Ok) {
        resp.error(403, "Current password is incorrect.");
        return false;
    }
    return true;
}

void AccountRoutes::changePassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::optional<Caller> caller = authenticateRequest(req, resp, rt);
    rapidjson::Document body;
    std::string error, current, next;
    if (!caller || !json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "current_password", current, error) ||
        !json::requireString(body, "new_password", next, error)) {
        resp.error(400, error);
        return;
    }
    guard(resp, rt, [&] {
        if (!confirm(*caller, current, req, resp, rt)) {
            return;
        }
        rt.accounts->changePassword(caller->userId, next, caller->sessionId);
        if (caller->sessionId.empty() && !caller->jti.empty()) {
            rt.tokens->revoke(caller->jti, caller->jtiExpires);
        }
        // Every earlier token of the account is now invalid: hand the caller a new one.
        TokenService::Issued issued = caller->sessionId.empty()
                                          ? rt.tokens->issue(caller->userId, "")
                                          : rt.sessions->reissue(caller->sessionId);
        resp.json(200, "{\"message\":\"Password changed.\",\"access_token\":" +
                           json::quote(issued.token) + ",\"token_type\":\"bearer\"}");
    });
}

void AccountRoutes::changeEmail(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::optional<Caller> caller = authenticateRequest(req, resp, rt);
    rapidjson::Document body;
    std::string error, email, current;
    if (!caller || !json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "email", email, error) ||
        !json::requireString(body, "current_password", current, error)) {
        resp.error(400, error);
        return;
    }
    guard(resp, rt, [&] {
        if (!confirm(*caller, current, req, resp, rt)) {
            return;
        }
        rt.accounts->changeEmail(caller->userId, email);
        resp.json(200, "{\"message\":\"Email changed.\",\"email\":" + json::quote(email) + "}");
    });
}

void AccountRoutes::deleteAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::optional<Caller> caller = authenticateRequest(req, resp, rt);
    rapidjson::Document body;
    std::string error, current;
    if (!caller || !json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "current_password", current, error)) {
        resp.error(400, error);
        return;
    }
    guard(resp, rt, [&] {
        if (!confirm(*caller, current, req, resp, rt)) {
            return;
        }
        rt.accounts->removeAs(caller->userId, "user:" + std::to_string(caller->userId),
                              req.clientAddress());
        if (!req.cookie(kCookieName).empty()) {
            resp.addHeader("Set-Cookie", expiredCookie(*_config, req));
        }
        resp.json(200, "{\"message\":\"Account deleted.\"}");
    });
}

void AccountRoutes::forgotPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    rapidjson::Document body;
    std::string error, login;
    if (!json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "login", login, error)) {
        resp.error(400, error);
        return;
    }
    try {
        rt.accounts->requestPasswordReset(login);
    } catch (const std::exception& e) {
        // Still 200: the answer must not tell whether the account exists.
        rt.context->logger().error("password reset request failed: %s", std::string(e.what()));
    }
    resp.json(200,
              "{\"message\":\"If the account exists, a password reset mail has been "
              "sent.\"}");
}

void AccountRoutes::resetPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    rapidjson::Document body;
    std::string error, token, password;
    if (!json::readBody(req, body, resp)) {
        return;
    }
    if (!json::requireString(body, "token", token, error) ||
        !json::requireString(body, "password", password, error)) {
        resp.error(400, error);
        return;
    }
    guard(resp, rt, [&] {
        rt.accounts->resetPassword(token, password);
        resp.json(200, "{\"message\":\"Password has been reset.\"}");
    });
}

}  // namespace switchboard::auth
