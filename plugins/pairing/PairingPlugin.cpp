// Pairing plugin lifecycle (see PairingPlugin.h).
#include "PairingPlugin.h"

#include <Poco/Logger.h>

#include "PairingEvents.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

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
    subscribeToOtherNodes(context);
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
    // Only the servers this node took offline in the store are announced: on a shared store
    // another node may have heard from them (then they stay online there and come back here
    // on their next heartbeat or look-up), or taken them offline first.
    std::vector<ServerInfo> announced = _store->markOffline(expired, cutoff);
    for (const auto& s : announced) {
        _context->bus().publish("server.offline", PairingEvents::offline(s));
    }
    if (announced.size() < expired.size()) {
        keepWatching(expired, announced);
    }
    if (!announced.empty()) {
        _context->logger().information("%z server(s) went offline", announced.size());
    }
}

void PairingPlugin::keepWatching(const std::vector<ServerInfo>& expired,
                                 const std::vector<ServerInfo>& announced) {
    // Servers the store kept online beat through another node: this node goes on watching
    // them (with the stored heartbeat), so that if that node dies they still go offline here.
    for (const auto& s : expired) {
        bool done = false;
        for (const auto& a : announced) {
            done = done || a.sshPubkey == s.sshPubkey;
        }
        if (done) {
            continue;
        }
        try {
            std::optional<ServerInfo> stored = _store->byKey(s.sshPubkey);
            if (stored && stored->online && stored->code != 0 && !_registry.byCode(stored->code)) {
                _registry.commit(*stored);
            }
        } catch (const std::exception& e) {
            _context->logger().warning("cannot re-read server %s: %s", s.sshPubkey,
                                       std::string(e.what()));
        }
    }
}

void PairingPlugin::subscribeToOtherNodes(HostContext& context) {
    // A shared store and bus (docs/decisions.md, "Many nodes"): the store decides (codes are
    // unique there, one node takes a server offline); these events keep this node's memory
    // from serving a code another node replaced or ended.
    context.bus().subscribe("server.online", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (e.origin.empty() || !json::parseObject(e.payload, d, error) ||
            !d.HasMember("ssh_pubkey") || !d["ssh_pubkey"].IsString()) {
            return;
        }
        std::optional<ServerInfo> s = _store->byKey(d["ssh_pubkey"].GetString());
        if (s && s->online && s->code != 0) {
            _registry.commit(*s);
        }
    });
    context.bus().subscribe("server.offline", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (e.origin.empty() || !json::parseObject(e.payload, d, error) ||
            !d.HasMember("ssh_pubkey") || !d["ssh_pubkey"].IsString()) {
            return;
        }
        std::optional<ServerInfo> s = _store->byKey(d["ssh_pubkey"].GetString());
        if (s && !s->online) {
            std::optional<ServerInfo> mine = _registry.byKey(s->sshPubkey);
            if (mine) {
                _registry.markOffline(s->sshPubkey, mine->registeredAt);
            }
        }
    });
    context.bus().subscribe("bus.reconnected", [this](const Event&) {
        _registry.load(_store->loadAll());  // events may have been lost meanwhile
    });
}

}  // namespace switchboard::pairing

SWITCHBOARD_PLUGIN(switchboard::pairing::PairingPlugin)
