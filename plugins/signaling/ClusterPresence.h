// Presence and signals across nodes (bus.url: redis://...): this node's presence changes are
// published on the bus as they happen and then written to the store (PresenceStore) in that
// order; other nodes' events update the registry's list of their peers; a signal for a peer of
// another node is forwarded to that node over the bus, and its refusal comes back the same way.
// When a node goes down (bus.node_down) its peers linger for the reconnect grace, and one surviving
// node (the one whose conditional update wins) publishes each one's peer.offline. After this
// node's bus reconnects it writes and republishes its own peers and reloads the others from the
// store. On the in-process bus (one node) it only publishes peer.online / peer.offline.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "PeerRegistry.h"
#include "PresenceStore.h"
#include "switchboard/HostContext.h"
#include "switchboard/Metrics.h"

namespace switchboard::signaling {

class ClusterPresence {
public:
    explicit ClusterPresence(PeerRegistry& registry) : _registry(registry) {}

    /// The registry's events (called under a group's lock: they only queue).
    void online(const Peer& peer);
    void offline(const Peer& peer, OfflineReason reason);
    void lost(const Peer& peer, const std::string& node);

    /// Subscribes to the bus and, on a shared bus, loads the other nodes' peers from the store.
    void start(HostContext& context, Store& store);
    /// Called by the plugin's sweep timer: retries a write the work pool refused, purges old
    /// rows now and then.
    void tick();
    /// Forgets the context (after the host cancelled timers, handlers and work).
    void stop();

    /// Forwards a signal from this node's `from` to `to`, a peer of `node`.
    void forward(const std::string& node, std::int64_t organizationId, const std::string& from,
                 const std::string& to, std::string_view dataJson);
    /// A member left an organization (or it was deleted: userId 0) on this node: the other
    /// nodes close that member's peers (every peer) too.
    void removed(std::int64_t organizationId, std::int64_t userId);

private:
    struct Op {
        enum class Kind { Online, Offline, Lost, Republish, Purge } kind;
        std::shared_ptr<const Peer> peer;
        OfflineReason reason = OfflineReason::Closed;
    };
    void push(Op op);
    /// Work pool: writes the queued changes in one transaction, then publishes them.
    void drain();
    void publish(const Op& op, bool claimed);
    /// Reloads the other nodes' peers from the store (and marks this node's stale rows); what
    /// was learnt from the bus within the last seconds is kept (its row may be on its way).
    void resync();
    /// A bus event of another node.
    void remoteOnline(const Event& event);
    void remoteOffline(const Event& event);
    void remoteSignal(const Event& event);
    void remoteSignalError(const Event& event);
    void remoteRemoved(const Event& event);

    PeerRegistry& _registry;
    HostContext* _context = nullptr;
    std::unique_ptr<PresenceStore> _store;
    std::string _node;  ///< this node's id; "" on the in-process bus
    std::mutex _mutex;  ///< guards _ops, _draining
    std::deque<Op> _ops;
    bool _draining = false;
    std::mutex _syncMutex;  ///< orders a resync with the bus handlers
    int _ticks = 0;
    std::optional<PeerRegistry::Clock::time_point> _resyncAt;  ///< guarded by _mutex
    Counter* _storeErrors = nullptr;
    Counter* _forwarded = nullptr;
    Counter* _written = nullptr;
};

}  // namespace switchboard::signaling
