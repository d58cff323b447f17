// Presence: the registered agents of this node, grouped by organization (an organization has one
// subnet, so "same organization" is "same organization and subnet"), and, with several nodes,
// the agents other nodes hold (learned from the bus and the store: ClusterPresence). Announces
// peers coming and going to this node's peers of their group, relays signals inside a group,
// replaces an agent that registers again (here or on another node), and keeps a peer whose
// connection (or node) broke for the reconnect grace. In memory only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchboard/WebSocket.h"

namespace switchboard::signaling {

/// Why a peer went offline, as bus events name it.
enum class OfflineReason { Closed, Timeout, Dropped, Replaced, Left };
const char* reasonName(OfflineReason reason);

/// One registered agent. Immutable once added, except for the connection, which the registry
/// guards.
struct Peer {
    std::int64_t organizationId = 0;
    std::int64_t userId = 0;
    std::string peerId;   ///< agent_id, or the connection id when none was given
    std::string agentId;  ///< "" when none was given
    std::string email;
    std::string virtualIp;
    std::string connectionId;
    std::string publicIp;
    std::int64_t publicPort = 0;
    std::optional<std::string> relayIp;
    std::optional<std::int64_t> relayPort;
    std::string remoteAddress;  ///< the TCP peer of the WebSocket
    double registeredAt = 0;    ///< epoch s; orders two registrations of one agent across nodes
    /// The seed's peer object as JSON (peer_id, user_id, email, agent_id, public_ip,
    /// public_port, relay_ip, relay_port, virtual_ip); set by finish().
    std::string json;

    /// Builds `json` from the fields.
    void finish();
    /// Rebuilds a peer from its `json` and the fields it lacks; nullptr if `json` is not a peer
    /// object (another node's event or a stored row).
    static std::shared_ptr<Peer> fromJson(std::int64_t organizationId, const std::string& json,
                                          const std::string& connectionId, double registeredAt);
    /// True if this registration comes after `other` (later, or as late with the greater
    /// connection id), so that every node picks the same one of two.
    bool newerThan(const Peer& other) const;
};

using PeerPtr = std::shared_ptr<Peer>;

/// The agent id is registered in the organization by another user.
class PeerConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class PeerRegistry {
public:
    /// Presence changes, for the bus: online (with the peer) or offline (with the reason).
    /// Called under the group's lock: queue the event, do not call back into the registry.
    struct Events {
        std::function<void(const Peer&)> online;
        std::function<void(const Peer&, OfflineReason)> offline;
        /// A peer of another node whose node went down stayed away past the grace (optional).
        std::function<void(const Peer&, const std::string& node)> lost;
    };
    using Clock = std::chrono::steady_clock;

    /// `maxAgentsPerUser`: peers one user may have in one organization (a further add throws
    /// PeerConflict; a replacement does not count twice).
    PeerRegistry(std::chrono::milliseconds reconnectGrace, std::size_t maxAgentsPerUser,
                 Events events);

    /// Adds `peer` on `conn`: sends it `register_agent_response` built by `response` from the
    /// JSON array of the group's other peers, and `peer_online` to the others, both under the
    /// group's lock so that every peer sees one order of events. An agent id already in the
    /// group for the same user is replaced (its connection closed by the server, the others get
    /// just the new `peer_online`). Throws PeerConflict if another user holds the agent id or
    /// the user has maxAgentsPerUser peers in the group already.
    void add(const PeerPtr& peer, const WebSocketPtr& conn,
             const std::function<std::string(const std::string& existingPeers)>& response);

    /// The connection of `peer` ended. With `lingering` the peer stays listed until the grace
    /// runs out (sweep()) unless it registers again; otherwise it goes offline at once. Nothing
    /// happens if `peer` was replaced or removed already.
    void disconnected(const PeerPtr& peer, bool lingering, OfflineReason reason);

    /// Takes lingering peers whose grace ran out offline (reason dropped).
    void sweep(Clock::time_point now = Clock::now());

    enum class RelayResult { Sent, UnknownPeer, NotConnected, Remote };
    /// Sends {"type":"signal","from":<from>,"data":<dataJson>} to `to` in `organizationId`.
    /// Remote: `to` is connected to another node, whose id goes to `node` (the caller forwards
    /// it); with `localOnly` (a signal another node forwarded) such a peer is UnknownPeer.
    RelayResult relay(std::int64_t organizationId, const std::string& from, const std::string& to,
                      std::string_view dataJson, std::string* node = nullptr,
                      bool localOnly = false);

    // ---- other nodes' peers (ClusterPresence calls these from bus handlers)

    /// Another node registered `peer`: this node's peers of the group get peer_online, and a
    /// peer of the same agent held here is replaced (its connection closed as by add()) when
    /// `peer` is the newer registration. A peer of another user with the same id keeps the
    /// older registration (the one a single node would have kept): a newer one is ignored, an
    /// older one replaces ours (closed with 1008, announced offline). Returns false if ignored.
    bool remoteOnline(const PeerPtr& peer, const std::string& node);
    /// Another node's peer went offline: if `connectionId` is still the one listed, it goes
    /// (peer_offline to this node's peers of the group). False if not listed.
    bool remoteOffline(std::int64_t organizationId, const std::string& peerId,
                       const std::string& connectionId);
    /// `node` went down: its peers linger for the reconnect grace (sweep() announces them, and
    /// calls Events::lost, unless they register again meanwhile). Returns how many.
    std::size_t nodeDown(const std::string& node);
    /// `node` is heard again: its lingering peers are connected again (nothing is announced).
    void nodeUp(const std::string& node);
    /// This node's own peer `peerId` if its connection is `connectionId`, else nullptr.
    PeerPtr findLocal(std::int64_t organizationId, const std::string& peerId,
                      const std::string& connectionId) const;
    struct Remote {
        PeerPtr peer;
        std::string node;
    };
    /// Makes the other nodes' peers match `online` (the store's view): missing ones are added,
    /// changed ones replaced (peer_online), and listed ones that are not in it removed
    /// (peer_offline) if they were learnt before `learnedBefore`. This node's own peers stay as
    /// they are.
    void resync(const std::vector<Remote>& online,
                Clock::time_point learnedBefore = Clock::time_point::max());
    /// This node's own peers (lingering ones included).
    std::vector<PeerPtr> localPeers() const;
    /// Sends `text` to this node's connected peer `peerId`; false if there is none.
    bool sendLocal(std::int64_t organizationId, const std::string& peerId, const std::string& text);

    /// Takes the peer offline (reason) and closes its connection; false if unknown.
    bool kick(std::int64_t organizationId, const std::string& peerId, OfflineReason reason,
              std::uint16_t code, const std::string& why);
    /// Takes every peer of `userId` (in `organizationId`, or everywhere) offline and closes
    /// their connections. Returns how many.
    std::size_t removeUser(std::int64_t userId, std::optional<std::int64_t> organizationId,
                           OfflineReason reason, std::uint16_t code, const std::string& why);
    /// Takes every peer of the organization offline and closes their connections.
    std::size_t removeOrganization(std::int64_t organizationId, OfflineReason reason,
                                   std::uint16_t code, const std::string& why);

    struct Listed {
        PeerPtr peer;
        bool connected = false;
        std::string node;  ///< "" for this node's peers
    };
    /// This node's peers (of one organization when set), ordered by organization then peer id, at
    /// most `limit` from `offset`; `total` counts them all.
    std::vector<Listed> list(std::optional<std::int64_t> organizationId, std::size_t limit,
                             std::size_t offset, std::size_t& total) const;
    /// This node's own peers (lingering ones included).
    std::size_t size() const;
    std::size_t onlineIn(std::int64_t organizationId) const;

private:
    struct Entry {
        PeerPtr peer;
        WebSocketPtr conn;  ///< this node's open connection; nullptr while lingering or remote
        std::string node;   ///< "" for this node's peers, else the node holding the connection
        bool lingering = false;
        Clock::time_point lingerUntil{};
        Clock::time_point learned{};  ///< when another node's peer was listed
    };
    struct Group {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Entry> peers;
    };
    std::shared_ptr<Group> group(std::int64_t organizationId, bool create);
    std::vector<std::shared_ptr<Group>> groups() const;
    /// Erases `it` and tells the others (and, for this node's peer, Events::offline); group
    /// mutex held.
    void offlineLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                       OfflineReason reason);
    /// Lists `peer` of `node` (replacing what `it` holds, if it is not end()) and tells the
    /// others; group mutex held.
    void remoteLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                      const PeerPtr& peer, const std::string& node);
    void sendToOthersLocked(Group& g, const std::string& exceptPeerId, const std::string& text);

    const std::chrono::milliseconds _grace;
    const std::size_t _maxAgentsPerUser;
    const Events _events;
    mutable std::mutex _groupsMutex;
    std::unordered_map<std::int64_t, std::shared_ptr<Group>> _groups;
    std::atomic<std::size_t> _size{0};
};

}  // namespace switchboard::signaling
