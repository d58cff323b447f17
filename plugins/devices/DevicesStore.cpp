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

DevicesStore::DevicesStore(Store& store, double onlineCutoff) : _store(store) {
    int before = _store.schemaVersion("devices");
    _store.migrate("devices", {{1,
                                {"CREATE TABLE devices ("
                                 " id INTEGER NOT NULL UNIQUE,"
                                 " device_key TEXT PRIMARY KEY,"
                                 " note TEXT NOT NULL,"
                                 " created_at DOUBLE PRECISION NOT NULL,"
                                 " token_hash TEXT,"
                                 " token_expires_at DOUBLE PRECISION,"
                                 " registered BIGINT NOT NULL,"
                                 " registered_at DOUBLE PRECISION,"
                                 " revoked BIGINT NOT NULL,"
                                 " device_info TEXT NOT NULL,"
                                 " ssh_pubkey TEXT)",
                                 // A 100,000-device heartbeat flush rewrites ~500 pages of this
                                 // table, against ~7,700 of the wide one (measured 4.5x faster).
                                 "CREATE TABLE device_seen ("
                                 " id INTEGER PRIMARY KEY,"
                                 " registered_at DOUBLE PRECISION,"
                                 " last_seen DOUBLE PRECISION)"}},
                               // The device secret issued at registration (its hash).
                               {2, {"ALTER TABLE devices ADD COLUMN secret_hash TEXT"}},
                               // Online is stored, so that nodes sharing the store decide each
                               // transition once (conditional updates of this column).
                               {3,
                                {"ALTER TABLE device_seen ADD COLUMN online BIGINT NOT NULL "
                                 "DEFAULT 0"}}});
    if (before > 0 && before < 3) {
        // Before, online was derived from last_seen at start: the same rule, once.
        _store.execute(
            "UPDATE device_seen SET online = 1"
            " WHERE registered_at IS NOT NULL AND last_seen >= $1",
            {onlineCutoff});
    }
    for (std::size_t i = 0; i < kShards; ++i) {
        // Never backwards: two nodes may flush heartbeats of one device in either order.
        _lastSeen[i] = _store.writeBehind("devices.last_seen." + std::to_string(i),
                                          "UPDATE device_seen SET last_seen = $1"
                                          " WHERE id = $2 AND registered_at = $3"
                                          " AND (last_seen IS NULL OR last_seen < $1)");
        _deviceInfo[i] =
            _store.writeBehind("devices.device_info." + std::to_string(i),
                               "UPDATE devices SET device_info = $1"
                               " WHERE device_key = $2 AND registered = 1 AND registered_at = $3");
    }
}

std::size_t DevicesStore::shard(const std::string& key) {
    return std::hash<std::string>()(key) % kShards;
}

namespace {

constexpr const char* kSelect =
    "SELECT d.id, d.device_key, d.note, d.created_at, d.token_hash, d.token_expires_at,"
    " d.registered, d.registered_at, d.revoked, s.last_seen, d.device_info, d.ssh_pubkey,"
    " d.secret_hash, s.online"
    " FROM devices d LEFT JOIN device_seen s ON s.id = d.id";

DeviceRecord recordOf(const SqlRow& row) {
    DeviceRecord d;
    d.id = row.getInt(0);
    d.key = row.getString(1);
    d.note = row.getString(2);
    d.createdAt = row.getDouble(3);
    d.tokenHash = row.getString(4);
    d.tokenExpiresAt = row.getDouble(5);
    d.registered = row.getInt(6) != 0;
    d.registeredAt = row.getDouble(7);
    d.revoked = row.getInt(8) != 0;
    d.lastSeen = row.getDouble(9);
    d.deviceInfo = row.getString(10);
    d.sshPubkey = row.getString(11);
    d.secretHash = row.getString(12);
    d.online = row.getInt(13) != 0 && d.registered && !d.revoked;
    return d;
}

constexpr const char* kMatches =
    " WHERE LOWER(d.device_key) LIKE $1 ESCAPE '\\' OR LOWER(d.note) LIKE $1 ESCAPE '\\'";

}  // namespace

void DevicesStore::forEach(const std::function<void(DeviceRecord&&)>& each, std::int64_t pageSize) {
    std::string after;
    for (;;) {
        // Keyset paging: "" sorts before every key, and each page starts after the last one.
        std::vector<SqlRow> rows = _store.query(
            std::string(kSelect) + " WHERE d.device_key > $1 ORDER BY d.device_key LIMIT $2",
            {after, pageSize});
        for (const auto& row : rows) {
            DeviceRecord d = recordOf(row);
            after = d.key;
            each(std::move(d));
        }
        if (static_cast<std::int64_t>(rows.size()) < pageSize) {
            return;
        }
    }
}

std::optional<DeviceRecord> DevicesStore::byKey(const std::string& key) {
    std::vector<SqlRow> rows =
        _store.query(std::string(kSelect) + " WHERE d.device_key = $1", {key});
    if (rows.empty()) {
        return std::nullopt;
    }
    return recordOf(rows.front());
}

std::vector<DeviceRecord> DevicesStore::byIds(const std::vector<std::int64_t>& ids) {
    std::vector<DeviceRecord> out;
    constexpr std::size_t kChunk = 500;
    for (std::size_t first = 0; first < ids.size(); first += kChunk) {
        std::string sql = std::string(kSelect) + " WHERE d.id IN (";
        SqlParams params;
        for (std::size_t i = first; i < ids.size() && i < first + kChunk; ++i) {
            sql += (i == first ? "$" : ", $") + std::to_string(i - first + 1);
            params.emplace_back(ids[i]);
        }
        for (const auto& row : _store.query(sql + ")", params)) {
            out.push_back(recordOf(row));
        }
    }
    return out;
}

std::vector<DeviceRecord> DevicesStore::page(const std::string& like, std::size_t limit,
                                             std::size_t offset, std::size_t& total) {
    std::vector<SqlRow> count =
        _store.query(std::string("SELECT COUNT(*) FROM devices d") + kMatches, {like});
    total = count.empty() ? 0 : static_cast<std::size_t>(count.front().getInt(0));
    std::vector<DeviceRecord> out;
    for (const auto& row : _store.query(
             std::string(kSelect) + kMatches + " ORDER BY d.device_key" +
                 // Byte order, as the in-memory list (not the database's locale).
                 (_store.backend() == "postgresql" ? " COLLATE \"C\"" : "") + " LIMIT $2 OFFSET $3",
             {like, static_cast<std::int64_t>(limit), static_cast<std::int64_t>(offset)})) {
        out.push_back(recordOf(row));
    }
    return out;
}

std::int64_t DevicesStore::maxId() {
    std::vector<SqlRow> rows = _store.query("SELECT COALESCE(MAX(id), 0) FROM devices");
    return rows.empty() ? 0 : rows.front().getInt(0);
}

void DevicesStore::insert(const DeviceRecord& d) {
    _store.transaction([&](StoreTx& tx) {
        tx.execute(
            "INSERT INTO devices (id, device_key, note, created_at, token_hash, token_expires_at,"
            " registered, registered_at, revoked, device_info, ssh_pubkey)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            {d.id, d.key, d.note, d.createdAt, textOrNull(d.tokenHash),
             timeOrNull(d.tokenExpiresAt), std::int64_t{d.registered ? 1 : 0},
             timeOrNull(d.registeredAt), std::int64_t{d.revoked ? 1 : 0}, d.deviceInfo,
             textOrNull(d.sshPubkey)});
        // Built by push_back: GCC 12 at -O3 reports a false -Wmaybe-uninitialized for a
        // braced list of SqlValues returned by timeOrNull().
        SqlParams seen{d.id};
        seen.push_back(timeOrNull(d.registeredAt));
        seen.push_back(timeOrNull(d.lastSeen));
        tx.execute("INSERT INTO device_seen (id, registered_at, last_seen) VALUES ($1, $2, $3)",
                   seen);
    });
}

void DevicesStore::setToken(const std::string& key, const std::string& tokenHash,
                            double expiresAt) {
    _store.execute(
        "UPDATE devices SET token_hash = $1, token_expires_at = $2 WHERE device_key = $3",
        {tokenHash, expiresAt, key});
}

DevicesStore::Registration DevicesStore::registerDevice(const Device& device, double registeredAt,
                                                        const std::string& deviceInfo,
                                                        const std::string& secretHash,
                                                        const std::string& tokenHash) {
    Registration result;
    _store.transaction([&](StoreTx& tx) {
        // The burn is the condition: of two nodes given one token at once, one changes the row
        // and the other (its update waits for the first and then matches nothing) does not.
        result.burned =
            tx.execute(
                "UPDATE devices SET token_hash = NULL, token_expires_at = NULL,"
                " registered = 1, registered_at = $1, revoked = 0, device_info = $2,"
                " ssh_pubkey = NULL, secret_hash = $3"
                " WHERE device_key = $4 AND token_hash = $5 AND token_expires_at > $1",
                {registeredAt, deviceInfo, textOrNull(secretHash), device.key, tokenHash}) > 0;
        if (!result.burned) {
            return;
        }
        result.cameOnline =
            tx.execute("UPDATE device_seen SET online = 1 WHERE id = $1 AND online = 0",
                       {device.id}) > 0;
        tx.execute(
            "UPDATE device_seen SET registered_at = $1, last_seen = $1, online = 1 WHERE id = $2",
            {registeredAt, device.id});
    });
    if (result.burned) {
        discardHeartbeat(device.key);  // of the previous registration (its flush would not match)
    }
    return result;
}

bool DevicesStore::revoke(const Device& device, double lastSeen, const std::string& deviceInfo) {
    bool wasOnline = false;
    // The latest heartbeat is written now: its queued update would no longer match the row.
    _store.transaction([&](StoreTx& tx) {
        tx.execute(
            "UPDATE devices SET token_hash = NULL, token_expires_at = NULL, registered = 0,"
            " registered_at = NULL, revoked = 1, ssh_pubkey = NULL, secret_hash = NULL,"
            " device_info = $1"
            " WHERE device_key = $2",
            {deviceInfo, device.key});
        wasOnline = tx.execute("UPDATE device_seen SET online = 0 WHERE id = $1 AND online = 1",
                               {device.id}) > 0;
        SqlParams seen;
        seen.push_back(timeOrNull(lastSeen));
        seen.emplace_back(device.id);
        tx.execute("UPDATE device_seen SET registered_at = NULL, last_seen = $1 WHERE id = $2",
                   seen);
    });
    discardHeartbeat(device.key);
    return wasOnline;
}

void DevicesStore::setSshKey(const std::string& key, const std::string& pubkey) {
    _store.execute("UPDATE devices SET ssh_pubkey = $1 WHERE device_key = $2", {pubkey, key});
}

bool DevicesStore::comeOnline(const Device& device, double now) {
    return _store.execute(
               "UPDATE device_seen SET online = 1, last_seen = $1"
               " WHERE id = $2 AND registered_at = $3 AND online = 0",
               {now, device.id, device.registeredAt}) > 0;
}

std::vector<bool> DevicesStore::takeOffline(const std::vector<Quiet>& devices, double cutoff) {
    std::vector<bool> changed(devices.size(), false);
    _store.transaction([&](StoreTx& tx) {
        for (std::size_t i = 0; i < devices.size(); ++i) {
            changed[i] =
                tx.execute(
                    "UPDATE device_seen SET online = 0 WHERE id = $1 AND registered_at = $2"
                    " AND online = 1 AND last_seen < $3",
                    {devices[i].id, devices[i].registeredAt, cutoff}) > 0;
        }
    });
    return changed;
}

void DevicesStore::heartbeat(const Device& device, double lastSeen, double registeredAt) {
    _lastSeen[shard(device.key)]->put(device.key, {lastSeen, device.id, registeredAt});
}

void DevicesStore::deviceInfo(const std::string& key, std::string deviceInfo, double registeredAt) {
    _deviceInfo[shard(key)]->put(key, {std::move(deviceInfo), key, registeredAt});
}

void DevicesStore::discardHeartbeat(const std::string& key) {
    _lastSeen[shard(key)]->discard(key);
    _deviceInfo[shard(key)]->discard(key);
}

void DevicesStore::flush() {
    for (std::size_t i = 0; i < kShards; ++i) {
        _lastSeen[i]->flush();
        _deviceInfo[i]->flush();
    }
}

std::size_t DevicesStore::pendingHeartbeats() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < kShards; ++i) {
        n += _lastSeen[i]->pending() + _deviceInfo[i]->pending();
    }
    return n;
}

}  // namespace switchboard::devices
