// Presence: the registered agents of this node, grouped by organization (an organization has one
// subnet, so "same organization" is "same organization and subnet"). Announces peers coming and
// going to the others of their group, relays signals inside a group, replaces an agent that
// registers again, and keeps a peer whose connection broke for the reconnect grace. In memory
// only; the plugin publishes each change on the bus.
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
    double registeredAt = 0;
    /// The seed's peer object as JSON (peer_id, user_id, email, agent_id, public_ip,
    /// public_port, relay_ip, relay_port, virtual_ip); set by finish().
    std::string json;

    /// Builds `json` from the fields.
    void finish();
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

    enum class RelayResult { Sent, UnknownPeer, NotConnected };
    /// Sends {"type":"signal","from":<from>,"data":<dataJson>} to `to` in `from`'s group.
    RelayResult relay(const Peer& from, const std::string& to, std::string_view dataJson);

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
    };
    /// Peers (of one organization when set), ordered by organization then peer id, at most
    /// `limit` from `offset`; `total` counts them all.
    std::vector<Listed> list(std::optional<std::int64_t> organizationId, std::size_t limit,
                             std::size_t offset, std::size_t& total) const;
    std::size_t size() const;
    std::size_t onlineIn(std::int64_t organizationId) const;

private:
    struct Entry {
        PeerPtr peer;
        WebSocketPtr conn;  ///< nullptr while lingering
        Clock::time_point lingerUntil{};
    };
    struct Group {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Entry> peers;
    };
    std::shared_ptr<Group> group(std::int64_t organizationId, bool create);
    /// Erases `it` and tells the others; group mutex held.
    void offlineLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                       OfflineReason reason);
    void sendToOthersLocked(Group& g, const std::string& exceptPeerId, const std::string& text);

    const std::chrono::milliseconds _grace;
    const std::size_t _maxAgentsPerUser;
    const Events _events;
    mutable std::mutex _groupsMutex;
    std::unordered_map<std::int64_t, std::shared_ptr<Group>> _groups;
    std::atomic<std::size_t> _size{0};
};

}  // namespace switchboard::signaling
