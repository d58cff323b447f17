// Presence and signals across nodes (see ClusterPresence.h).
#include "ClusterPresence.h"

#include <Poco/Logger.h>

#include <set>
#include <tuple>
#include <vector>

#include "SignalingEvents.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::signaling {

namespace {

constexpr std::size_t kMaxQueued = 100000;
constexpr std::size_t kBatch = 256;
/// Offline rows are deleted an hour after they went offline, checked every ~2 minutes of ticks.
constexpr double kKeepOffline = 3600;
constexpr int kPurgeEveryTicks = 240;
/// How long a presence change may take from its event to its row (normally milliseconds); a
/// resync leaves alone what was learnt within it, and runs again that much later.
constexpr std::chrono::seconds kStoreLag{2};

// Under "internal.": a relayed signal carries the peers' SDP and candidates, which the admin
// event stream, webhooks and Lua hooks ("*" subscribers) must not see.
const char* kSignal = "internal.signaling.signal";
const char* kSignalError = "internal.signaling.signal_error";
const char* kRemoved = "signaling.removed";
/// A peer.online republished after this node's bus reconnected (not a new registration).
const char* kPresence = "signaling.presence";

std::string member(const rapidjson::Value& doc, const char* key) {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
}

std::int64_t integer(const rapidjson::Value& doc, const char* key) {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

}  // namespace

void ClusterPresence::start(HostContext& context, Store& store) {
    _context = &context;
    _node = context.bus().nodeId();
    Metrics& m = context.metrics();
    _storeErrors = &m.counter("presence_store_errors_total",
                              "Presence changes the store refused (published all the same)");
    _forwarded =
        &m.counter("signals_forwarded_total", "Signals forwarded to a peer on another node");
    _written = &m.counter("presence_rows_written_total",
                          "Presence changes written to the store (several nodes only)");
    if (_node.empty()) {
        return;  // one node: nothing to share
    }
    _store = std::make_unique<PresenceStore>(store);
    EventBus& bus = context.bus();
    bus.subscribe("peer.online", [this](const Event& e) { remoteOnline(e); });
    bus.subscribe(kPresence, [this](const Event& e) { remoteOnline(e); });
    bus.subscribe("peer.offline", [this](const Event& e) { remoteOffline(e); });
    bus.subscribe(kSignal, [this](const Event& e) { remoteSignal(e); });
    bus.subscribe(kSignalError, [this](const Event& e) { remoteSignalError(e); });
    bus.subscribe(kRemoved, [this](const Event& e) { remoteRemoved(e); });
    bus.subscribe("bus.node_down", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (!json::parseObject(e.payload, d, error)) {
            return;
        }
        std::string node = member(d, "node");
        std::lock_guard<std::mutex> sync(_syncMutex);
        std::size_t n = _registry.nodeDown(node);
        if (n > 0) {
            _context->logger().warning(
                "node %s is down: its %z peer(s) are offline unless they return within the "
                "reconnect grace",
                node, n);
        }
    });
    bus.subscribe("bus.node_up", [this](const Event& e) {
        // Heard again within the grace (it was slow, not dead): its peers are back as they were.
        rapidjson::Document d;
        std::string error;
        if (json::parseObject(e.payload, d, error)) {
            std::lock_guard<std::mutex> sync(_syncMutex);
            _registry.nodeUp(member(d, "node"));
        }
    });
    bus.subscribe("bus.reconnected", [this](const Event&) {
        // Other nodes may have missed our changes (and taken our peers offline if they took
        // us for dead); we may have missed theirs.
        for (const PeerPtr& peer : _registry.localPeers()) {
            push(Op{Op::Kind::Republish, peer});
        }
        try {
            resync();
        } catch (const std::exception& e) {
            _context->logger().warning("cannot reload presence after the bus reconnected: %s",
                                       std::string(e.what()));
        }
        std::lock_guard<std::mutex> lock(_mutex);
        _resyncAt = PeerRegistry::Clock::now() + 2 * kStoreLag;  // once more, by tick()
    });
    try {
        resync();
    } catch (const std::exception& e) {
        // The bus still brings every change from now on; what came before shows up as those
        // peers change, or at the next reconnect.
        _context->logger().warning("cannot load the other nodes' peers from the store: %s",
                                   std::string(e.what()));
    }
}

void ClusterPresence::stop() {
    _context = nullptr;
    _store.reset();
    std::lock_guard<std::mutex> lock(_mutex);
    _ops.clear();
    _draining = false;
}

void ClusterPresence::online(const Peer& peer) {
    if (_context == nullptr) {
        return;
    }
    // Published at once (under the group's lock: one order for every node), stored after.
    _context->bus().publish("peer.online", SignalingEvents::online(peer));
    if (!_node.empty()) {
        push(Op{Op::Kind::Online, std::make_shared<const Peer>(peer)});
    }
}

void ClusterPresence::offline(const Peer& peer, OfflineReason reason) {
    if (_context == nullptr) {
        return;
    }
    _context->bus().publish("peer.offline", SignalingEvents::offline(peer, reason));
    if (!_node.empty()) {
        push(Op{Op::Kind::Offline, std::make_shared<const Peer>(peer), reason});
    }
}

void ClusterPresence::lost(const Peer& peer, const std::string& node) {
    (void)node;
    if (_context != nullptr && !_node.empty()) {
        push(Op{Op::Kind::Lost, std::make_shared<const Peer>(peer), OfflineReason::Dropped});
    }
}

void ClusterPresence::push(Op op) {
    bool schedule = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_ops.size() >= kMaxQueued) {
            _storeErrors->inc();
            return;  // the store has been failing for long; tick() logs
        }
        _ops.push_back(std::move(op));
        if (!_draining) {
            _draining = schedule = true;
        }
    }
    if (schedule && !_context->work([this] { drain(); })) {
        std::lock_guard<std::mutex> lock(_mutex);
        _draining = false;  // the work pool is full: tick() tries again
    }
}

void ClusterPresence::tick() {
    if (_context == nullptr || _node.empty()) {
        return;
    }
    if (++_ticks % kPurgeEveryTicks == 0) {
        push(Op{Op::Kind::Purge, nullptr});
        return;
    }
    bool schedule = false;
    bool again = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (!_ops.empty() && !_draining) {
            _draining = schedule = true;
        }
        if (_resyncAt && *_resyncAt <= PeerRegistry::Clock::now()) {
            _resyncAt.reset();
            again = true;
        }
    }
    if (again && !_context->work([this] {
            try {
                resync();
            } catch (const std::exception& e) {
                _context->logger().warning("cannot reload presence: %s", std::string(e.what()));
            }
        })) {
        std::lock_guard<std::mutex> lock(_mutex);
        _resyncAt = PeerRegistry::Clock::now();
    }
    if (schedule && !_context->work([this] { drain(); })) {
        std::lock_guard<std::mutex> lock(_mutex);
        _draining = false;
    }
}

void ClusterPresence::drain() {
    for (;;) {
        std::vector<Op> batch;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            if (_ops.empty() || _store == nullptr) {
                _draining = false;
                return;
            }
            while (!_ops.empty() && batch.size() < kBatch) {
                batch.push_back(std::move(_ops.front()));
                _ops.pop_front();
            }
        }
        std::vector<char> claimed(batch.size(), 1);
        try {
            double now = epochSeconds();
            _store->store().transaction([&](StoreTx& tx) {
                for (std::size_t i = 0; i < batch.size(); ++i) {
                    const Op& op = batch[i];
                    switch (op.kind) {
                        case Op::Kind::Online:
                        case Op::Kind::Republish:
                            PresenceStore::online(tx, *op.peer, _node, now);
                            break;
                        case Op::Kind::Offline:
                            PresenceStore::offline(tx, *op.peer, now);
                            break;
                        case Op::Kind::Lost:
                            claimed[i] = PresenceStore::claim(tx, *op.peer, now) ? 1 : 0;
                            break;
                        case Op::Kind::Purge:
                            PresenceStore::purge(tx, now - kKeepOffline);
                            break;
                    }
                }
            });
            _written->inc(batch.size());
        } catch (const std::exception& e) {
            // The other nodes learnt it from the bus; the rows are set right when this node's
            // bus reconnects. A lost peer is announced rather than not at all.
            _storeErrors->inc(batch.size());
            _context->logger().warning("cannot store %z presence change(s): %s", batch.size(),
                                       std::string(e.what()));
            std::fill(claimed.begin(), claimed.end(), 1);
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            publish(batch[i], claimed[i] != 0);
        }
    }
}

void ClusterPresence::publish(const Op& op, bool claimed) {
    EventBus& bus = _context->bus();
    switch (op.kind) {
        case Op::Kind::Online:
        case Op::Kind::Offline:
            return;  // published when it happened
        case Op::Kind::Republish:
            bus.publish(kPresence, SignalingEvents::online(*op.peer));
            return;
        case Op::Kind::Lost:
            if (claimed) {  // one node announces it, whichever claimed the row
                bus.publish("peer.offline", SignalingEvents::offline(*op.peer, op.reason));
            }
            return;
        case Op::Kind::Purge:
            return;
    }
}

void ClusterPresence::resync() {
    std::lock_guard<std::mutex> sync(_syncMutex);
    // Rows are written just after their events: what was learnt lately may not be stored yet.
    auto learnedBefore = PeerRegistry::Clock::now() - kStoreLag;
    std::vector<PeerRegistry::Remote> rows = _store->onlinePeers();
    std::set<std::tuple<std::int64_t, std::string, std::string>> mine;
    for (const PeerPtr& p : _registry.localPeers()) {
        mine.emplace(p->organizationId, p->peerId, p->connectionId);
    }
    std::vector<PeerRegistry::Remote> others;
    std::set<std::string> nodes;
    for (auto& row : rows) {
        if (row.node == _node) {
            if (mine.count({row.peer->organizationId, row.peer->peerId, row.peer->connectionId}) ==
                0) {
                push(Op{Op::Kind::Offline, row.peer, OfflineReason::Dropped});  // stale
            }
            continue;
        }
        nodes.insert(row.node);
        others.push_back(std::move(row));
    }
    // A row may name a node that died while no other node ran: it goes down if it is silent.
    for (const std::string& node : nodes) {
        _context->bus().watchNode(node);
    }
    _registry.resync(others, learnedBefore);
}

void ClusterPresence::remoteOnline(const Event& event) {
    rapidjson::Document d;
    std::string error;
    if (event.origin.empty() || !json::parseObject(event.payload, d, error)) {
        return;
    }
    auto peer = d.FindMember("peer");
    auto at = d.FindMember("registered_at");
    if (peer == d.MemberEnd() || !peer->value.IsObject()) {
        return;
    }
    auto p = Peer::fromJson(
        integer(d, "organization_id"), json::stringify(peer->value), member(d, "connection_id"),
        at != d.MemberEnd() && at->value.IsNumber() ? at->value.GetDouble() : 0.0);
    if (p) {
        std::lock_guard<std::mutex> sync(_syncMutex);
        _registry.remoteOnline(p, event.origin);
    }
}

void ClusterPresence::remoteOffline(const Event& event) {
    rapidjson::Document d;
    std::string error;
    if (event.origin.empty() || !json::parseObject(event.payload, d, error)) {
        return;
    }
    std::int64_t org = integer(d, "organization_id");
    std::string peerId = member(d, "peer_id");
    std::string connection = member(d, "connection_id");
    std::lock_guard<std::mutex> sync(_syncMutex);
    if (_registry.remoteOffline(org, peerId, connection)) {
        return;
    }
    // Another node took this node for dead (it was silent too long) and announced one of our
    // live peers offline: say again that it is here.
    if (PeerPtr mine = _registry.findLocal(org, peerId, connection)) {
        push(Op{Op::Kind::Republish, mine});
    }
}

void ClusterPresence::forward(const std::string& node, std::int64_t organizationId,
                              const std::string& from, const std::string& to,
                              std::string_view dataJson) {
    _forwarded->inc();
    _context->bus().publish(
        kSignal, "{\"node\":" + json::quote(node) + ",\"organization_id\":" +
                     std::to_string(organizationId) + ",\"from\":" + json::quote(from) +
                     ",\"to\":" + json::quote(to) + ",\"data\":" + std::string(dataJson) + "}");
}

void ClusterPresence::remoteSignal(const Event& event) {
    rapidjson::Document d;
    std::string error;
    if (event.origin.empty() || !json::parseObject(event.payload, d, error) ||
        member(d, "node") != _node) {
        return;
    }
    auto data = d.FindMember("data");
    if (data == d.MemberEnd() || !data->value.IsObject()) {
        return;
    }
    std::int64_t org = integer(d, "organization_id");
    std::string from = member(d, "from");
    std::string to = member(d, "to");
    auto result = _registry.relay(org, from, to, json::stringify(data->value), nullptr, true);
    if (result == PeerRegistry::RelayResult::Sent) {
        return;
    }
    // The sender's node tells the sender, as it would have for a peer of its own.
    const char* why =
        result == PeerRegistry::RelayResult::NotConnected ? "Peer not connected" : "Unknown peer";
    _context->bus().publish(kSignalError, "{\"node\":" + json::quote(event.origin) +
                                              ",\"organization_id\":" + std::to_string(org) +
                                              ",\"from\":" + json::quote(from) + ",\"to\":" +
                                              json::quote(to) + ",\"error\":\"" + why + "\"}");
}

void ClusterPresence::remoteSignalError(const Event& event) {
    rapidjson::Document d;
    std::string error;
    if (event.origin.empty() || !json::parseObject(event.payload, d, error) ||
        member(d, "node") != _node) {
        return;
    }
    _registry.sendLocal(integer(d, "organization_id"), member(d, "from"),
                        "{\"error\":" + json::quote(member(d, "error")) +
                            ",\"to\":" + json::quote(member(d, "to")) + "}");
}

void ClusterPresence::removed(std::int64_t organizationId, std::int64_t userId) {
    if (_context != nullptr && !_node.empty()) {
        _context->bus().publish(kRemoved, "{\"organization_id\":" + std::to_string(organizationId) +
                                              ",\"user_id\":" + std::to_string(userId) + "}");
    }
}

void ClusterPresence::remoteRemoved(const Event& event) {
    rapidjson::Document d;
    std::string error;
    if (event.origin.empty() || !json::parseObject(event.payload, d, error)) {
        return;
    }
    std::int64_t org = integer(d, "organization_id");
    std::int64_t user = integer(d, "user_id");
    if (org <= 0) {
        return;
    }
    if (user > 0) {
        _registry.removeUser(user, org, OfflineReason::Left, 1000, "left the organization");
    } else {
        _registry.removeOrganization(org, OfflineReason::Left, 1000, "organization deleted");
    }
}

}  // namespace switchboard::signaling
