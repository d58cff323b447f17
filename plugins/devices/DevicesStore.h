// The devices plugin's tables: `devices` (one row per device) and `device_seen` (id,
// registered_at, last_seen: narrow and integer-keyed, because heartbeats rewrite it all the time).
// Enrolment, tokens, registrations, revocations and SSH keys are written before the reply
// (durable); heartbeats go through the store's write-behind batchers, sharded by device key so
// concurrent heartbeats rarely share a lock. last_seen and device_info are queued separately,
// so a heartbeat that changes nothing but the time writes one small row.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "DeviceRegistry.h"
#include "switchboard/Store.h"

namespace switchboard::devices {

class DevicesStore {
public:
    static constexpr std::size_t kShards = 8;

    /// Applies the plugin's migrations and creates the write-behind batchers.
    explicit DevicesStore(Store& store);

    /// Calls `each` for every stored device, reading them in pages of `pageSize` (ordered by
    /// key) so the rows in flight stay few however many devices there are.
    void forEach(const std::function<void(DeviceRecord&&)>& each, std::int64_t pageSize = 2000);
    /// Inserts a new device; throws StoreError (e.g. the key exists).
    void insert(const DeviceRecord& device);
    void setToken(const std::string& key, const std::string& tokenHash, double expiresAt);
    /// Burns the token and records the registration (clears revoked and the SSH key) with the
    /// hash of the device secret issued with it.
    void registerDevice(const Device& device, double registeredAt, const std::string& deviceInfo,
                        const std::string& secretHash);
    /// Revokes: not registered, no token, no SSH key; last_seen and device_info as given.
    void revoke(const Device& device, double lastSeen, const std::string& deviceInfo);
    void setSshKey(const std::string& key, const std::string& pubkey);

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
