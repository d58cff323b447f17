// Account upkeep over HTTP: POST /register, GET /me, POST /password/change, /email/change,
// DELETE /account, POST /password/forgot and /password/reset (seeds 001 and 003). Handlers
// never throw.
#pragma once

#include <memory>

#include "AuthConfig.h"
#include "RouteSupport.h"
#include "switchboard/Http.h"

namespace switchboard::auth {

class AccountRoutes {
public:
    explicit AccountRoutes(std::shared_ptr<const AuthConfig> config) : _config(std::move(config)) {}

    void registerAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void me(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void changePassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void changeEmail(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void deleteAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void forgotPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void resetPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);

private:
    /// Checks current_password of the caller's account: false (and 403/429 answered) if wrong.
    bool confirm(const Caller& caller, const std::string& password, const HttpRequest& req,
                 HttpResponse& resp, const Runtime& rt);

    std::shared_ptr<const AuthConfig> _config;
};

}  // namespace switchboard::auth
