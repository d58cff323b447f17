// The in-memory view of registered TunneLink servers: who is online, under which pairing code.
// Readers (look-ups, heartbeats) share a lock; registration and offline sweeps take it alone.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::pairing {

/// A registered server as stored; `code` is 0 while offline.
struct ServerInfo {
    std::string sshPubkey;
    std::string sshUser;
    std::int64_t sshTunnel = 0;
    std::int64_t listenPubkeyTunnel = 0;
    int code = 0;
    bool online = false;
    double lastHeartbeat = 0;
    double registeredAt = 0;
    /// ServerSecret::hash of the secret issued at its latest registration ("" for servers
    /// registered before secrets existed).
    std::string secretHash;
};

class ServerRegistry {
public:
    static constexpr int kMinCode = 1000;
    static constexpr int kMaxCode = 9999;

    /// Replaces the contents (start-up load).
    void load(const std::vector<ServerInfo>& servers);

    /// Reserves a random code unused by online servers and other reservations; nullopt when
    /// all 9,000 are taken.
    std::optional<int> reserveCode();
    void releaseReservation(int code);
    /// Makes `info` (online, with a reserved code) current; the server's previous code stops
    /// resolving.
    void commit(const ServerInfo& info);
    /// Takes a server offline here because another node did (its registration `registeredAt`
    /// only: a newer one stays).
    void markOffline(const std::string& sshPubkey, double registeredAt);

    /// The online server holding `code`.
    std::optional<ServerInfo> byCode(int code) const;
    std::optional<ServerInfo> byKey(const std::string& sshPubkey) const;

    enum class Heartbeat { Updated, Offline, Unknown };
    /// Records a heartbeat at `now` if the server is online.
    Heartbeat heartbeat(const std::string& sshPubkey, double now);

    /// Marks offline every online server whose last heartbeat is older than `cutoff`, releasing
    /// their codes; returns them.
    std::vector<ServerInfo> expire(double cutoff);

    std::vector<ServerInfo> all() const;
    std::size_t onlineCount() const;

private:
    struct Entry {
        ServerInfo info;  ///< guarded by _mutex, except lastHeartbeat below
        std::atomic<double> lastHeartbeat{0};
        ServerInfo snapshot() const;
    };

    mutable std::shared_mutex _mutex;
    std::unordered_map<std::string, std::shared_ptr<Entry>> _byKey;
    std::unordered_map<int, std::shared_ptr<Entry>> _byCode;
    std::unordered_set<int> _reserved;
    std::mt19937 _random{std::random_device{}()};
};

}  // namespace switchboard::pairing
