// The auth plugin (seeds 001, 002, 003): accounts, JWTs, cookie sessions and the Lua
// on_communicate / session_valid hooks. Lifecycle and wiring only.
#pragma once

#include <cstdint>
#include <memory>

#include "AccountService.h"
#include "AuthConfig.h"
#include "AuthRoutes.h"
#include "AuthStore.h"
#include "Mailer.h"
#include "PasswordHasher.h"
#include "SessionManager.h"
#include "TokenService.h"
#include "switchboard/Plugin.h"

namespace switchboard::auth {

class AuthPlugin : public Plugin {
public:
    void declareConfig(ConfigSchema& schema) const override { AuthConfig::declare(schema); }
    void configure(const ConfigSection& config) override;
    std::string listener() const override { return _config->listener; }
    std::vector<Route> routes() override { return _routes->routes(); }
    std::vector<Route> adminRoutes() override { return _routes->adminRoutes(); }
    std::vector<AdminView> adminViews() const override { return AuthRoutes::adminViews(); }
    void start(HostContext& context) override;
    void stop() override;

private:
    /// The periodic task: session expiry and session_valid, then expired revocations.
    void sweep();
    /// Keeps memory in step with other nodes sharing the store and bus.
    void subscribeToOtherNodes(HostContext& context);

    std::shared_ptr<const AuthConfig> _config;
    std::unique_ptr<AuthRoutes> _routes;
    HostContext* _context = nullptr;
    // Built in start(); kept until destruction because other plugins may still hold the
    // Accounts service (it refuses calls after stop).
    std::unique_ptr<AuthStore> _store;
    std::unique_ptr<PasswordHasher> _hasher;
    std::unique_ptr<TokenService> _tokens;
    std::unique_ptr<SessionManager> _sessions;
    std::unique_ptr<Mailer> _mailer;
    std::shared_ptr<AccountService> _accounts;
    std::unique_ptr<Runtime> _runtime;
    std::int64_t _lastPurge = 0;
};

}  // namespace switchboard::auth
