// The auth plugin's route table (public and admin) and the admin handlers: list and delete
// accounts, list and end sessions.
#pragma once

#include <memory>
#include <vector>

#include "AccountRoutes.h"
#include "AuthConfig.h"
#include "RouteSupport.h"
#include "SessionRoutes.h"
#include "switchboard/AdminView.h"
#include "switchboard/Http.h"

namespace switchboard::auth {

class AuthRoutes {
public:
    explicit AuthRoutes(std::shared_ptr<const AuthConfig> config);

    /// Points the handlers at the running plugin's objects (at start; the host calls handlers
    /// only between start and stop, see Plugin.h).
    void bind(const Runtime* runtime) { _runtime = runtime; }
    std::vector<Route> routes();
    std::vector<Route> adminRoutes();
    /// The console's views of these routes (AdminView.h).
    static std::vector<AdminView> adminViews();

private:
    using Handler = void (AuthRoutes::*)(const HttpRequest&, HttpResponse&, const Runtime&);
    /// A route handler calling `handler` with the running plugin's objects.
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
    void deleteUser(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);

    std::shared_ptr<const AuthConfig> _config;
    SessionRoutes _sessionRoutes;
    AccountRoutes _accountRoutes;
    const Runtime* _runtime = nullptr;
};

}  // namespace switchboard::auth
