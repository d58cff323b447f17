// Devices table and queries (see DevicesStore.h). Portable SQL: $n placeholders, BIGINT,
// DOUBLE PRECISION, TEXT; NULL for absent times, tokens and keys.
#include "DevicesStore.h"

#include <functional>

namespace switchboard::devices {

namespace {

SqlValue timeOrNull(double t) {
    return t > 0 ? SqlValue(t) : SqlValue(nullptr);
}
SqlValue textOrNull(const std::string& s) {
    return s.empty() ? SqlValue(nullptr) : SqlValue(s);
}

}  // namespace

DevicesStore::DevicesStore(Store& store) : _store(store) {
    _store.migrate("devices", {{1,
                                {"CREATE TABLE devices ("
                                 " device_key TEXT PRIMARY KEY,"
                                 " note TEXT NOT NULL,"
                                 " created_at DOUBLE PRECISION NOT NULL,"
                                 " token_hash TEXT,"
                                 " token_expires_at DOUBLE PRECISION,"
                                 " registered BIGINT NOT NULL,"
                                 " registered_at DOUBLE PRECISION,"
                                 " revoked BIGINT NOT NULL,"
                                 " last_seen DOUBLE PRECISION,"
                                 " device_info TEXT NOT NULL,"
                                 " ssh_pubkey TEXT)"}}});
    for (std::size_t i = 0; i < kShards; ++i) {
        _lastSeen[i] =
            _store.writeBehind("devices.last_seen." + std::to_string(i),
                               "UPDATE devices SET last_seen = $1"
                               " WHERE device_key = $2 AND registered = 1 AND registered_at = $3");
        _deviceInfo[i] =
            _store.writeBehind("devices.device_info." + std::to_string(i),
                               "UPDATE devices SET device_info = $1"
                               " WHERE device_key = $2 AND registered = 1 AND registered_at = $3");
    }
}

std::size_t DevicesStore::shard(const std::string& key) {
    return std::hash<std::string>()(key) % kShards;
}

void DevicesStore::forEach(const std::function<void(DeviceRecord&&)>& each, std::int64_t pageSize) {
    std::string after;
    for (;;) {
        // Keyset paging: "" sorts before every key, and each page starts after the last one.
        std::vector<SqlRow> rows = _store.query(
            "SELECT device_key, note, created_at, token_hash, token_expires_at, registered,"
            " registered_at, revoked, last_seen, device_info, ssh_pubkey FROM devices"
            " WHERE device_key > $1 ORDER BY device_key LIMIT $2",
            {after, pageSize});
        for (const auto& row : rows) {
            DeviceRecord d;
            d.key = row.getString(0);
            d.note = row.getString(1);
            d.createdAt = row.getDouble(2);
            d.tokenHash = row.getString(3);
            d.tokenExpiresAt = row.getDouble(4);
            d.registered = row.getInt(5) != 0;
            d.registeredAt = row.getDouble(6);
            d.revoked = row.getInt(7) != 0;
            d.lastSeen = row.getDouble(8);
            d.deviceInfo = row.getString(9);
            d.sshPubkey = row.getString(10);
            after = d.key;
            each(std::move(d));
        }
        if (static_cast<std::int64_t>(rows.size()) < pageSize) {
            return;
        }
    }
}

void DevicesStore::insert(const DeviceRecord& d) {
    _store.execute(
        "INSERT INTO devices (device_key, note, created_at, token_hash, token_expires_at,"
        " registered, registered_at, revoked, last_seen, device_info, ssh_pubkey)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        {d.key, d.note, d.createdAt, textOrNull(d.tokenHash), timeOrNull(d.tokenExpiresAt),
         std::int64_t{d.registered ? 1 : 0}, timeOrNull(d.registeredAt),
         std::int64_t{d.revoked ? 1 : 0}, timeOrNull(d.lastSeen), d.deviceInfo,
         textOrNull(d.sshPubkey)});
}

void DevicesStore::setToken(const std::string& key, const std::string& tokenHash,
                            double expiresAt) {
    _store.execute(
        "UPDATE devices SET token_hash = $1, token_expires_at = $2 WHERE device_key = $3",
        {tokenHash, expiresAt, key});
}

void DevicesStore::registerDevice(const std::string& key, double registeredAt,
                                  const std::string& deviceInfo) {
    _store.execute(
        "UPDATE devices SET token_hash = NULL, token_expires_at = NULL, registered = 1,"
        " registered_at = $1, revoked = 0, last_seen = $1, device_info = $2, ssh_pubkey = NULL"
        " WHERE device_key = $3",
        {registeredAt, deviceInfo, key});
    discardHeartbeat(key);  // one of the previous registration (its flush would not match)
}

void DevicesStore::revoke(const std::string& key, double lastSeen, const std::string& deviceInfo) {
    // The latest heartbeat is written now: its queued update would no longer match the row.
    _store.execute(
        "UPDATE devices SET token_hash = NULL, token_expires_at = NULL, registered = 0,"
        " registered_at = NULL, revoked = 1, ssh_pubkey = NULL, last_seen = $1,"
        " device_info = $2 WHERE device_key = $3",
        {timeOrNull(lastSeen), deviceInfo, key});
    discardHeartbeat(key);
}

void DevicesStore::setSshKey(const std::string& key, const std::string& pubkey) {
    _store.execute("UPDATE devices SET ssh_pubkey = $1 WHERE device_key = $2", {pubkey, key});
}

void DevicesStore::heartbeat(const std::string& key, double lastSeen, double registeredAt) {
    _lastSeen[shard(key)]->put(key, {lastSeen, key, registeredAt});
}

void DevicesStore::deviceInfo(const std::string& key, std::string deviceInfo, double registeredAt) {
    _deviceInfo[shard(key)]->put(key, {std::move(deviceInfo), key, registeredAt});
}

void DevicesStore::discardHeartbeat(const std::string& key) {
    _lastSeen[shard(key)]->discard(key);
    _deviceInfo[shard(key)]->discard(key);
}

std::size_t DevicesStore::pendingHeartbeats() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < kShards; ++i) {
        n += _lastSeen[i]->pending() + _deviceInfo[i]->pending();
    }
    return n;
}

}  // namespace switchboard::devices
