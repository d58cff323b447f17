// The devices plugin's tables: `devices` (one row per device) and `device_seen` (id,
// registered_at, last_seen, online: narrow and integer-keyed, because heartbeats rewrite it all
// the time). Enrolment, tokens, registrations, revocations, SSH keys and online/offline
// transitions are written before the reply (durable); a transition and a token's burn are
// conditional updates, so on a store shared by several nodes exactly one node makes each.
// Heartbeats go through the store's write-behind batchers, sharded by device key so concurrent
// heartbeats rarely share a lock. last_seen and device_info are queued separately, so a
// heartbeat that changes nothing but the time writes one small row.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "DeviceRegistry.h"
#include "switchboard/Store.h"

namespace switchboard::devices {

class DevicesStore {
public:
    static constexpr std::size_t kShards = 8;

    /// Applies the plugin's migrations and creates the write-behind batchers. A store migrated
    /// from before online was stored marks online the registered devices seen since
    /// `onlineCutoff`.
    DevicesStore(Store& store, double onlineCutoff);

    /// Calls `each` for every stored device, reading them in pages of `pageSize` (ordered by
    /// key) so the rows in flight stay few however many devices there are.
    void forEach(const std::function<void(DeviceRecord&&)>& each, std::int64_t pageSize = 2000);
    /// One device as stored.
    std::optional<DeviceRecord> byKey(const std::string& key);
    /// The stored devices among `ids` (any order).
    std::vector<DeviceRecord> byIds(const std::vector<std::int64_t>& ids);
    /// One page, in key order, of the devices whose key or note matches `like` (a LIKE pattern
    /// on the lower-case text, PageQuery::likePattern); `total` counts every match.
    std::vector<DeviceRecord> page(const std::string& like, std::size_t limit, std::size_t offset,
                                   std::size_t& total);
    /// The highest stored device id (0 if none).
    std::int64_t maxId();
    /// Inserts a new device; throws StoreError (e.g. the key or the id exists).
    void insert(const DeviceRecord& device);
    void setToken(const std::string& key, const std::string& tokenHash, double expiresAt);

    struct Registration {
        bool burned = false;      ///< the token was still pending: this call registered it
        bool cameOnline = false;  ///< it was offline in the store before
    };
    /// Burns the token whose hash is `tokenHash` if it is still pending and unexpired at
    /// `registeredAt`, and records the registration (clears revoked and the SSH key, online)
    /// with the hash of the device secret issued with it. Nothing changes when it is not.
    Registration registerDevice(const Device& device, double registeredAt,
                                const std::string& deviceInfo, const std::string& secretHash,
                                const std::string& tokenHash);
    /// Revokes: not registered, no token, no SSH key, offline; last_seen and device_info as
    /// given. True if it was online in the store.
    bool revoke(const Device& device, double lastSeen, const std::string& deviceInfo);
    void setSshKey(const std::string& key, const std::string& pubkey);
    /// Takes the registration `device.registeredAt` online at `now` if it is offline in the
    /// store; true if this call did (the caller announces it).
    bool comeOnline(const Device& device, double now);
    /// A registration the offline sweep found quiet.
    struct Quiet {
        std::int64_t id = 0;
        double registeredAt = 0;
    };
    /// Takes offline, in one transaction, each of `devices` that is online in the store under
    /// that registration and whose stored last_seen is before `cutoff`; for each, true if this
    /// call did (the caller announces it).
    std::vector<bool> takeOffline(const std::vector<Quiet>& devices, double cutoff);

    /// Queues last_seen of the registration made at `registeredAt` (the row is left alone if it
    /// was revoked or registered again before the flush).
    void heartbeat(const Device& device, double lastSeen, double registeredAt);
    /// Queues a changed device_info the same way. Kept apart from last_seen (other batchers,
    /// other column) so that unchanged info, the usual heartbeat, costs no write.
    void deviceInfo(const std::string& key, std::string deviceInfo, double registeredAt);
    /// Drops the queued updates of a device.
    void discardHeartbeat(const std::string& key);
    /// Updates waiting for the next flush.
    std::size_t pendingHeartbeats() const;
    /// Writes the queued updates now (at stop, so a reloaded plugin reads them back). Throws
    /// StoreError if the store refuses; what failed stays queued for the store's own flushes.
    void flush();

private:
    static std::size_t shard(const std::string& key);

    Store& _store;
    std::array<std::shared_ptr<WriteBehind>, kShards> _lastSeen;
    std::array<std::shared_ptr<WriteBehind>, kShards> _deviceInfo;
};

}  // namespace switchboard::devices
