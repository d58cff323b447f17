// The in-memory view of enrolled devices, the heartbeat hot path's only shared structure.
// The map takes its lock exclusively only to add a device (admin enrolment); look-ups share it.
// Each Device has its own mutex for its state, so heartbeats of different devices never wait
// for each other; last_seen and online are atomics for lock-free reads (listing, expiry scan).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "DeviceInfo.h"
#include "DeviceTokens.h"

namespace switchboard::devices {

/// A device as the store keeps it (load, snapshots for listings).
struct DeviceRecord {
    std::int64_t id = 0;  ///< numeric id, the key of the narrow last-seen table
    std::string key;
    std::string note;
    double createdAt = 0;
    std::string tokenHash;  ///< hex SHA-256, "" when no token is pending
    double tokenExpiresAt = 0;
    bool registered = false;
    double registeredAt = 0;  ///< 0 while not registered
    bool revoked = false;
    double lastSeen = 0;  ///< 0: never
    std::string deviceInfo = "{}";
    std::string sshPubkey;   ///< "" when none
    std::string secretHash;  ///< hex SHA-256 of the device secret, "" when none was issued
    bool online = false;     ///< stored (registered and not revoked only)
};

/// One enrolled device. Fields other than lastSeen/online are guarded by `mutex`.
struct Device {
    Device(std::int64_t deviceId, std::string deviceKey)
        : id(deviceId), key(std::move(deviceKey)) {}
    const std::int64_t id;
    const std::string key;
    std::mutex mutex;
    std::string note;
    double createdAt = 0;
    DeviceTokens::Hash tokenHash{};
    bool hasToken = false;
    double tokenExpiresAt = 0;
    bool registered = false;
    double registeredAt = 0;
    bool revoked = false;
    DeviceInfo info;
    std::string sshPubkey;
    /// The device secret issued at its registration (hashed like tokens), if any.
    DeviceTokens::Hash secretHash{};
    bool hasSecret = false;
    /// The client address of its registration or latest heartbeat (memory only): an address
    /// that is rate-limited still reaches the devices it serves.
    std::string lastAddress;
    /// Written under `mutex`, readable without it.
    std::atomic<double> lastSeen{0};
    std::atomic<bool> online{false};

    /// A copy of the state (takes `mutex`).
    DeviceRecord snapshot();
};

class DeviceRegistry {
public:
    /// Adds a stored device (the start-up load, or one another node enrolled) online as stored;
    /// returns it, or the one already known under its key (left as it was).
    std::shared_ptr<Device> adopt(const DeviceRecord& record);
    /// Brings `device` (its mutex held) up to its stored row, read after this node's last
    /// change of it: the row wins, except that last_seen and device_info of the same
    /// registration stay when this node heard from the device later (write-behind).
    void apply(Device& device, const DeviceRecord& record);

    std::shared_ptr<Device> find(const std::string& key) const;
    /// Adds a new device; false if the key is taken.
    bool insert(const std::shared_ptr<Device>& device);
    /// One page of the devices in key order for which `match` is true (called with the shared
    /// lock held: it must not call back into the registry): `offset` matches skipped, at most
    /// `limit` returned. Sets `total` to the number of matches. Walks the key index, so a page
    /// costs no copy of the whole list (and, without a filter, only `offset + limit` steps).
    std::vector<std::shared_ptr<Device>> page(std::size_t offset, std::size_t limit,
                                              const std::function<bool(Device&)>& match,
                                              std::size_t& total) const;

    /// Marks `device` (its mutex held by the caller) seen at `now`; true if it was offline.
    bool markSeen(Device& device, double now);
    /// Marks `device` (mutex held) offline; true if it was online.
    bool markOffline(Device& device);
    /// The devices online here and last seen before `cutoff` (read without their mutexes).
    std::vector<std::shared_ptr<Device>> candidates(double cutoff) const;

    /// Registration state changes (mutex held) go through here to keep the counts right.
    void setRegistered(Device& device, bool registered);

    std::size_t size() const;
    /// The highest device id loaded or inserted (0 if none): enrolment takes the next one.
    std::int64_t maxId() const { return _maxId.load(std::memory_order_relaxed); }
    std::size_t registeredCount() const { return _registered.load(std::memory_order_relaxed); }
    std::size_t onlineCount() const { return _online.load(std::memory_order_relaxed); }

private:
    mutable std::shared_mutex _mutex;
    std::unordered_map<std::string, std::shared_ptr<Device>> _devices;
    /// The same devices by key, for listing in order (devices are never removed, so the views
    /// of their const keys stay valid).
    std::map<std::string_view, std::shared_ptr<Device>> _ordered;
    std::atomic<std::size_t> _registered{0};
    std::atomic<std::size_t> _online{0};
    std::atomic<std::int64_t> _maxId{0};  ///< written under the exclusive lock
};

}  // namespace switchboard::devices
