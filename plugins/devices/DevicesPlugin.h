// The devices plugin (Meeting device integration, seed 004): lifecycle and wiring only.
#pragma once

#include <cstdint>
#include <memory>

#include "DeviceRegistry.h"
#include "DeviceSync.h"
#include "DevicesAdminRoutes.h"
#include "DevicesConfig.h"
#include "DevicesRoutes.h"
#include "DevicesStore.h"
#include "switchboard/Plugin.h"

namespace switchboard::devices {

class DevicesPlugin : public Plugin {
public:
    void declareConfig(ConfigSchema& schema) const override;
    void configure(const ConfigSection& config) override;
    std::string listener() const override { return _config->listener; }
    std::vector<Route> routes() override { return _routes->routes(); }
    std::vector<Route> adminRoutes() override { return _adminRoutes->routes(); }
    std::vector<AdminView> adminViews() const override { return DevicesAdminRoutes::views(); }
    void start(HostContext& context) override;
    void stop() override;

private:
    /// The configured host key, or the generated one under <data_dir>/devices.
    std::string hostKey(HostContext& context) const;
    /// Takes devices whose last heartbeat is older than offline_after offline.
    void expire();

    std::shared_ptr<const DevicesConfig> _config;
    DeviceRegistry _registry;
    std::unique_ptr<DevicesRoutes> _routes;
    std::unique_ptr<DevicesAdminRoutes> _adminRoutes;
    std::unique_ptr<DevicesStore> _store;
    std::unique_ptr<DeviceSync> _sync;
    HostContext* _context = nullptr;
};

}  // namespace switchboard::devices
