// The signaling plugin (seed 001): organizations with IPv4 subnets, virtual IP allocation and the
// /ws peer signaling WebSocket. Lifecycle and wiring only.
#pragma once

#include <cstdint>
#include <memory>

#include "ClusterPresence.h"
#include "PeerRegistry.h"
#include "SignalingAdminRoutes.h"
#include "SignalingConfig.h"
#include "SignalingRoutes.h"
#include "SignalingSocket.h"
#include "SignalingStore.h"
#include "switchboard/Plugin.h"

namespace switchboard::signaling {

class SignalingPlugin : public Plugin {
public:
    std::vector<std::string> dependencies() const override { return {"auth"}; }
    void declareConfig(ConfigSchema& schema) const override;
    void configure(const ConfigSection& config) override;
    std::string listener() const override { return _config->listener; }
    std::vector<Route> routes() override { return _routes->routes(); }
    std::vector<Route> adminRoutes() override { return _adminRoutes->routes(); }
    std::vector<AdminView> adminViews() const override { return SignalingAdminRoutes::views(); }
    std::vector<WebSocketRoute> webSocketRoutes() override;
    void start(HostContext& context) override;
    void stop() override;

private:
    /// An account was deleted: its memberships, addresses and peers go.
    void forgetUser(std::int64_t userId);

    std::shared_ptr<const SignalingConfig> _config;
    std::unique_ptr<PeerRegistry> _registry;
    std::unique_ptr<ClusterPresence> _presence;
    std::unique_ptr<SignalingRoutes> _routes;
    std::unique_ptr<SignalingAdminRoutes> _adminRoutes;
    std::shared_ptr<SignalingSocket> _socket;
    std::unique_ptr<SignalingStore> _store;
    HostContext* _context = nullptr;
};

}  // namespace switchboard::signaling
