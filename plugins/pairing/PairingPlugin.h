// The pairing plugin (TunneLink, seed 000): lifecycle and wiring only.
#pragma once

#include <cstdint>
#include <memory>

#include "PairingConfig.h"
#include "PairingRoutes.h"
#include "PairingStore.h"
#include "ServerRegistry.h"
#include "switchboard/Plugin.h"

namespace switchboard::pairing {

class PairingPlugin : public Plugin {
public:
    void declareConfig(ConfigSchema& schema) const override;
    void configure(const ConfigSection& config) override;
    std::string listener() const override { return _config->listener; }
    std::vector<Route> routes() override { return _routes->routes(); }
    std::vector<Route> adminRoutes() override { return _routes->adminRoutes(); }
    std::vector<AdminView> adminViews() const override { return PairingRoutes::adminViews(); }
    void start(HostContext& context) override;
    void stop() override;

private:
    /// Keeps the registry in step with other nodes sharing the store and bus.
    void subscribeToOtherNodes(HostContext& context);
    /// Takes servers whose heartbeat is older than offline_after offline.
    void expire();
    /// Puts back into the registry the `expired` servers that are not `announced` and still
    /// online in the store (another node hears from them).
    void keepWatching(const std::vector<ServerInfo>& expired,
                      const std::vector<ServerInfo>& announced);

    std::shared_ptr<const PairingConfig> _config;
    ServerRegistry _registry;
    std::unique_ptr<PairingRoutes> _routes;
    std::unique_ptr<PairingStore> _store;
    HostContext* _context = nullptr;
};

}  // namespace switchboard::pairing
