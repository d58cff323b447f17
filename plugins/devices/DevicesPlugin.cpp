// Devices plugin lifecycle (see DevicesPlugin.h).
#include "DevicesPlugin.h"

#include <Poco/Logger.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "SshHostKey.h"
#include "switchboard/Clock.h"

namespace switchboard::devices {

void DevicesPlugin::declareConfig(ConfigSchema& schema) const {
    DevicesConfig::declare(schema);
}

void DevicesPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const DevicesConfig>(DevicesConfig::parse(config));
    _routes = std::make_unique<DevicesRoutes>(_config, _registry);
    _adminRoutes = std::make_unique<DevicesAdminRoutes>(_config, _registry);
}

std::string DevicesPlugin::hostKey(HostContext& context) const {
    if (!_config->sshHostKey.empty()) {
        context.logger().information("serving the SSH host key from %s", _config->sshHostKeyFile);
        return _config->sshHostKey;
    }
    const std::string dir = context.dataDir() + "/devices";
    bool created = false;
    std::string line = SshHostKey::loadOrCreate(dir, created);
    if (created) {
        context.logger().information(
            "generated an ed25519 SSH host key: %s/ssh_host_ed25519_key (set "
            "plugins.devices.ssh_host_key to serve another)",
            dir);
    } else {
        context.logger().information("serving the SSH host key %s/ssh_host_ed25519_key.pub", dir);
    }
    return line;
}

void DevicesPlugin::start(HostContext& context) {
    _context = &context;
    std::string key = hostKey(context);
    double offlineAfter = static_cast<double>(_config->offlineAfter.count()) / 1000.0;
    _store = std::make_unique<DevicesStore>(context.store(), epochSeconds() - offlineAfter);
    _store->forEach([&](DeviceRecord&& record) { _registry.adopt(record); });
#ifdef __GLIBC__
    // The pages of rows read at start stay in the allocator's free lists; hand them back.
    malloc_trim(0);
#endif
    _sync = std::make_unique<DeviceSync>(_registry, *_store, context);
    expire();  // devices that went quiet while no node was running
    Metrics& m = context.metrics();
    m.gauge("enrolled", "Devices enrolled (revoked included)",
            [this] { return static_cast<double>(_registry.size()); });
    m.gauge("registered", "Devices registered and not revoked",
            [this] { return static_cast<double>(_registry.registeredCount()); });
    m.gauge("online", "Devices online (heartbeat within offline_after)",
            [this] { return static_cast<double>(_registry.onlineCount()); });
    m.gauge("heartbeats_pending", "Heartbeats waiting for the next write-behind flush",
            [this] { return static_cast<double>(_store->pendingHeartbeats()); });
    context.every(_config->checkInterval, [this] { expire(); });
    _sync->subscribe();
    _routes->bind(&context, _store.get(), _sync.get(), key);
    _adminRoutes->bind(&context, _store.get(), _sync.get());
    context.logger().information("%z devices enrolled, %z registered, %z online", _registry.size(),
                                 _registry.registeredCount(), _registry.onlineCount());
}

void DevicesPlugin::stop() {
    // The host has cancelled the expiry timer already (Plugin.h): no sweep runs from here on.
    if (_store) {
        try {
            _store->flush();  // a plugin restarted by a reload loads what was just answered
        } catch (const std::exception& e) {
            _context->logger().warning("heartbeats not flushed at stop (the store retries): %s",
                                       std::string(e.what()));
        }
    }
    _context = nullptr;
}

void DevicesPlugin::expire() {
    double cutoff = epochSeconds() - static_cast<double>(_config->offlineAfter.count()) / 1000.0;
    std::size_t count = _sync->expire(cutoff);
    if (count > 0) {
        _context->logger().information("%z device(s) went offline", count);
    }
}

}  // namespace switchboard::devices

SWITCHBOARD_PLUGIN(switchboard::devices::DevicesPlugin)
