// The seed ServerAPI endpoints: POST /login, /logout and /communicate (the Lua on_communicate
// hook), plus the benchmark-only C++ echo of /communicate. Handlers never throw.
#pragma once

#include <memory>

#include "AuthConfig.h"
#include "RouteSupport.h"
#include "switchboard/Http.h"
#include "switchboard/Metrics.h"

namespace switchboard::auth {

class SessionRoutes {
public:
    explicit SessionRoutes(std::shared_ptr<const AuthConfig> config) : _config(std::move(config)) {}

    void login(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    void logout(const HttpRequest& req, HttpResponse& resp, const Runtime& rt);
    /// `native`: answer with the request data in C++ instead of calling Lua (benchmark route).
    void communicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt, bool native);

private:
    /// Applies the hook's (force_close, force_logout, response) to the response.
    void applyHookResult(const LuaResult& result, const SessionInfo& session,
                         const HttpRequest& req, HttpResponse& resp, const Runtime& rt);

    std::shared_ptr<const AuthConfig> _config;
};

}  // namespace switchboard::auth
