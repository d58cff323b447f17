// What the auth route handlers share: the objects of the running plugin, finding out who is
// calling (cookie session or bearer token) and the session cookie.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "AccountService.h"
#include "AuthConfig.h"
#include "SessionManager.h"
#include "TokenService.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"

namespace switchboard::auth {

constexpr const char* kCookieName = "sessionToken";
constexpr const char* kInvalidSession = "Invalid session token.";
constexpr const char* kInvalidCredentials = "Invalid credentials.";

/// The objects of a running plugin, built in start(). Handlers get it through AuthRoutes.
struct Runtime {
    HostContext* context = nullptr;
    AccountService* accounts = nullptr;
    SessionManager* sessions = nullptr;
    TokenService* tokens = nullptr;
};

/// An authenticated caller.
struct Caller {
    std::int64_t userId = 0;
    std::string login;
    std::string sessionId;  ///< the live login session ("" for a bearer token without one)
    std::string jti;        ///< the bearer token's id ("" when authenticated by cookie)
    std::int64_t jtiExpires = 0;
};

/// The caller of a request: a valid sessionToken cookie first, else an Authorization: Bearer
/// token. Otherwise answers 401 ("Invalid session token." for a bad cookie, "Invalid token."
/// for a bad bearer token, "Authentication required." for neither) and returns nullopt.
std::optional<Caller> authenticateRequest(const HttpRequest& req, HttpResponse& resp,
                                          const Runtime& rt);

/// Set-Cookie value for a new session: "sessionToken=<v>; HttpOnly; SameSite=Strict; Path=/"
/// (+ "; Secure" under TLS or cookie_secure: always; no SameSite for cookie_samesite: None).
std::string sessionCookie(const AuthConfig& config, const HttpRequest& req,
                          const std::string& value);
/// Set-Cookie value that deletes the session cookie.
std::string expiredCookie(const AuthConfig& config, const HttpRequest& req);

}  // namespace switchboard::auth
