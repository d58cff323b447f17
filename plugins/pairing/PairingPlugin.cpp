// Pairing plugin lifecycle (see PairingPlugin.h).
#include "PairingPlugin.h"

#include <Poco/Logger.h>

#include "PairingEvents.h"
#include "switchboard/Clock.h"

namespace switchboard::pairing {

void PairingPlugin::declareConfig(ConfigSchema& schema) const {
    PairingConfig::declare(schema);
}

void PairingPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const PairingConfig>(PairingConfig::parse(config));
    _routes = std::make_unique<PairingRoutes>(_config, _registry);
}

void PairingPlugin::start(HostContext& context) {
    _context = &context;
    _store = std::make_unique<PairingStore>(context.store());
    _registry.load(_store->loadAll());
    expire();  // servers that went quiet while we were down
    context.metrics().gauge("servers_online", "Servers online (holding a pairing code)",
                            [this] { return static_cast<double>(_registry.onlineCount()); });
    context.every(_config->checkInterval, [this] { expire(); });
    _routes->bind(&context, _store.get());
    context.logger().information("%z servers known, %z online", _registry.all().size(),
                                 _registry.onlineCount());
}

void PairingPlugin::stop() {
    // The host has cancelled the expiry timer already (Plugin.h): no sweep runs from here on.
    _context = nullptr;
}

void PairingPlugin::expire() {
    double cutoff = epochSeconds() - static_cast<double>(_config->offlineAfter.count()) / 1000.0;
    std::vector<ServerInfo> expired = _registry.expire(cutoff);
    if (expired.empty()) {
        return;
    }
    _store->markOffline(expired);
    for (const auto& s : expired) {
        _context->bus().publish("server.offline", PairingEvents::offline(s));
    }
    _context->logger().information("%z server(s) went offline", expired.size());
}

}  // namespace switchboard::pairing

SWITCHBOARD_PLUGIN(switchboard::pairing::PairingPlugin)
