// The auth plugin's route table (public and admin) and the admin handlers: list accounts, list
// and end sessions. Requests before start or after stop get 503.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "AccountRoutes.h"
#include "AuthConfig.h"
#include "RouteSupport.h"
#include "SessionRoutes.h"
#include "switchboard/Http.h"

namespace switchboard::auth {

class AuthRoutes {
public:
    explicit AuthRoutes(std::shared_ptr<const AuthConfig> config);

    /// Points the handlers at the running plugin's objects (nullptr at stop). `runtime` must
    /// stay alive until the plugin is destroyed (late requests may still read it).
    void bind(const Runtime* runtime) { _runtime.store(runtime); }
    std::vector<Route> routes();
    std::vector<Route> adminRoutes();

private:
    using Handler = void (AuthRoutes::*)(const HttpRequest&, HttpResponse&, const Runtime&);
    /// Wraps a handler: 503 while not running.
    HttpHandler wrap(Handler handler);

    void login(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void logout(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void communicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void benchCommunicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void registerAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void me(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void changePassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void changeEmail(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void deleteAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void forgotPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void resetPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void listUsers(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void listSessions(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void revokeSession(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);

    std::shared_ptr<const AuthConfig> _config;
    SessionRoutes _sessionRoutes;
    AccountRoutes _accountRoutes;
    std::atomic<const Runtime*> _runtime{nullptr};
};

}  // namespace switchboard::auth
