// The devices plugin's table. Enrolment, tokens, registrations, revocations and SSH keys are
// written before the reply (durable); heartbeats (last_seen, device_info) go through the store's
// write-behind batchers, sharded by device key so concurrent heartbeats rarely share a lock.
#pragma once

#include <array>
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

    std::vector<DeviceRecord> loadAll();
    /// Inserts a new device; throws StoreError (e.g. the key exists).
    void insert(const DeviceRecord& device);
    void setToken(const std::string& key, const std::string& tokenHash, double expiresAt);
    /// Burns the token and records the registration (clears revoked and the SSH key).
    void registerDevice(const std::string& key, double registeredAt, const std::string& deviceInfo);
    /// Revokes: not registered, no token, no SSH key; last_seen and device_info as given.
    void revoke(const std::string& key, double lastSeen, const std::string& deviceInfo);
    void setSshKey(const std::string& key, const std::string& pubkey);

    /// Queues last_seen and device_info of the registration made at `registeredAt` (the row is
    /// left alone if it was revoked or registered again before the flush).
    void heartbeat(const std::string& key, double lastSeen, std::string deviceInfo,
                   double registeredAt);
    /// Drops a queued heartbeat.
    void discardHeartbeat(const std::string& key);
    /// Heartbeats waiting for the next flush.
    std::size_t pendingHeartbeats() const;

private:
    WriteBehind& shard(const std::string& key) const;

    Store& _store;
    std::array<std::shared_ptr<WriteBehind>, kShards> _heartbeats;
};

}  // namespace switchboard::devices
