// Signaling plugin lifecycle (see SignalingPlugin.h).
#include "SignalingPlugin.h"

#include <Poco/Logger.h>

namespace switchboard::signaling {

void SignalingPlugin::declareConfig(ConfigSchema& schema) const {
    SignalingConfig::declare(schema);
}

void SignalingPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const SignalingConfig>(SignalingConfig::parse(config));
    // Events go to the bus of the running instance; the registry only calls them while
    // connections exist, that is between start() and stop().
    PeerRegistry::Events events;
    events.online = [this](const Peer& peer) { _presence->online(peer); };
    events.offline = [this](const Peer& peer, OfflineReason reason) {
        _presence->offline(peer, reason);
    };
    events.lost = [this](const Peer& peer, const std::string& node) {
        _presence->lost(peer, node);
    };
    _registry = std::make_unique<PeerRegistry>(_config->reconnectGrace, _config->maxAgentsPerUser,
                                               std::move(events));
    _presence = std::make_unique<ClusterPresence>(*_registry);
    _routes = std::make_unique<SignalingRoutes>(_config, *_registry, *_presence);
    _adminRoutes = std::make_unique<SignalingAdminRoutes>(*_registry, *_presence);
    _socket = std::make_shared<SignalingSocket>(_config, *_registry, *_presence);
}

std::vector<WebSocketRoute> SignalingPlugin::webSocketRoutes() {
    // The seed serves "/ws" and documents "/ws/": both.
    RouteDoc doc("The signaling WebSocket: register, presence and signals between peers");
    doc.describe(
           "Upgrade with `?token=<access_token>` or a bearer header; the first message is "
           "`{\"type\": \"register\", ...}`. See docs/plugins/signaling.md.")
        .param("token", "access_token of POST /login (or an Authorization: Bearer header)",
               Schema::string())
        .answer(101, "Switching Protocols: the WebSocket is open")
        .error(400, "not a valid WebSocket upgrade request");
    return {{"/ws", _socket, doc}, {"/ws/", _socket, doc}};
}

void SignalingPlugin::start(HostContext& context) {
    _store = std::make_unique<SignalingStore>(context.store());
    _context = &context;
    _routes->bind(&context, _store.get());
    _adminRoutes->bind(&context, _store.get());
    _socket->bind(&context, _store.get());
    context.metrics().gauge("peers", "Agents registered on this node (lingering ones included)",
                            [this] { return static_cast<double>(_registry->size()); });
    auto tick = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(500),
        std::max<std::chrono::milliseconds>(_config->reconnectGrace / 4,
                                            std::chrono::milliseconds(50)));
    context.every(tick, [this] {
        _registry->sweep();
        _presence->tick();
    });
    _presence->start(context, context.store());
    context.bus().subscribe("user.deleted", [this](const Event& event) {
        rapidjson::Document doc;
        doc.Parse(event.payload.data(), event.payload.size());
        if (doc.IsObject() && doc.HasMember("user_id") && doc["user_id"].IsInt64()) {
            forgetUser(doc["user_id"].GetInt64());
        }
    });
}

void SignalingPlugin::forgetUser(std::int64_t userId) {
    try {
        _store->forgetUser(userId);
    } catch (const std::exception& e) {
        _context->logger().warning("cannot remove the memberships of deleted user %Ld: %s",
                                   static_cast<Poco::Int64>(userId), std::string(e.what()));
    }
    std::size_t closed =
        _registry->removeUser(userId, std::nullopt, OfflineReason::Left, 1000, "account deleted");
    if (closed > 0) {
        _context->logger().information("deleted user %Ld: %z peer(s) closed",
                                       static_cast<Poco::Int64>(userId), closed);
    }
}

void SignalingPlugin::stop() {
    // Connections, timers and bus handlers are gone (Plugin.h); presence lives in memory only.
    _presence->stop();
    _socket->bind(nullptr, nullptr);
    _routes->bind(nullptr, nullptr);
    _adminRoutes->bind(nullptr, nullptr);
    _context = nullptr;
    _store.reset();
}

}  // namespace switchboard::signaling

SWITCHBOARD_PLUGIN(switchboard::signaling::SignalingPlugin)
