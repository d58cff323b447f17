// Pairing tables and queries (see PairingStore.h). SQL is portable: $n placeholders, BIGINT,
// DOUBLE PRECISION, ON CONFLICT upserts.
#include "PairingStore.h"

namespace switchboard::pairing {

PairingStore::PairingStore(Store& store) : _store(store) {
    _store.migrate("pairing", {{1,
                                {"CREATE TABLE pairing_servers ("
                                 " ssh_pubkey TEXT PRIMARY KEY,"
                                 " ssh_user TEXT NOT NULL,"
                                 " ssh_tunnel BIGINT NOT NULL,"
                                 " listen_pubkey_tunnel BIGINT NOT NULL,"
                                 " pairing_code BIGINT,"
                                 " online BIGINT NOT NULL,"
                                 " last_heartbeat DOUBLE PRECISION NOT NULL,"
                                 " registered_at DOUBLE PRECISION NOT NULL)"}},
                               // Codes are unique across nodes sharing the store (NULLs, the
                               // offline servers, do not collide on either backend).
                               {2,
                                {"CREATE UNIQUE INDEX pairing_servers_code ON pairing_servers "
                                 "(pairing_code)"}},
                               // The server secret issued at registration (its hash).
                               {3, {"ALTER TABLE pairing_servers ADD COLUMN secret_hash TEXT"}}});
    _heartbeats = _store.writeBehind(
        "pairing.heartbeat",
        "UPDATE pairing_servers SET last_heartbeat = $1 WHERE ssh_pubkey = $2 AND online = 1");
}

namespace {

constexpr const char* kSelect =
    "SELECT ssh_pubkey, ssh_user, ssh_tunnel, listen_pubkey_tunnel, pairing_code, online,"
    " last_heartbeat, registered_at, secret_hash FROM pairing_servers";

ServerInfo serverOf(const SqlRow& row) {
    ServerInfo s;
    s.sshPubkey = row.getString(0);
    s.sshUser = row.getString(1);
    s.sshTunnel = row.getInt(2);
    s.listenPubkeyTunnel = row.getInt(3);
    s.code = row.isNull(4) ? 0 : static_cast<int>(row.getInt(4));
    s.online = row.getInt(5) != 0;
    s.lastHeartbeat = row.getDouble(6);
    s.registeredAt = row.getDouble(7);
    s.secretHash = row.getString(8);
    return s;
}

}  // namespace

std::vector<ServerInfo> PairingStore::loadAll() {
    std::vector<ServerInfo> servers;
    for (const auto& row : _store.query(kSelect)) {
        servers.push_back(serverOf(row));
    }
    return servers;
}

std::optional<ServerInfo> PairingStore::byKey(const std::string& sshPubkey) {
    auto rows = _store.query(std::string(kSelect) + " WHERE ssh_pubkey = $1", {sshPubkey});
    if (rows.empty()) {
        return std::nullopt;
    }
    return serverOf(rows.front());
}

std::optional<ServerInfo> PairingStore::byCode(int code, double cutoff) {
    auto rows = _store.query(
        std::string(kSelect) + " WHERE pairing_code = $1 AND online = 1 AND last_heartbeat >= $2",
        {static_cast<std::int64_t>(code), cutoff});
    if (rows.empty()) {
        return std::nullopt;
    }
    return serverOf(rows.front());
}

bool PairingStore::codeTaken(int code, const std::string& sshPubkey) {
    return !_store
                .query("SELECT 1 FROM pairing_servers WHERE pairing_code = $1 AND ssh_pubkey <> $2",
                       {static_cast<std::int64_t>(code), sshPubkey})
                .empty();
}

void PairingStore::save(const ServerInfo& s) {
    _heartbeats->discard(s.sshPubkey);
    _store.execute(
        "INSERT INTO pairing_servers (ssh_pubkey, ssh_user, ssh_tunnel, listen_pubkey_tunnel,"
        " pairing_code, online, last_heartbeat, registered_at, secret_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (ssh_pubkey) DO UPDATE SET ssh_user = excluded.ssh_user,"
        " ssh_tunnel = excluded.ssh_tunnel, listen_pubkey_tunnel = excluded.listen_pubkey_tunnel,"
        " pairing_code = excluded.pairing_code, online = excluded.online,"
        " last_heartbeat = excluded.last_heartbeat, registered_at = excluded.registered_at,"
        " secret_hash = excluded.secret_hash",
        {s.sshPubkey, s.sshUser, s.sshTunnel, s.listenPubkeyTunnel,
         s.code != 0 ? SqlValue(static_cast<std::int64_t>(s.code)) : SqlValue(nullptr),
         static_cast<std::int64_t>(s.online ? 1 : 0), s.lastHeartbeat, s.registeredAt,
         s.secretHash});
}

void PairingStore::heartbeat(const std::string& sshPubkey, double when) {
    _heartbeats->put(sshPubkey, {when, sshPubkey});
}

std::vector<ServerInfo> PairingStore::markOffline(const std::vector<ServerInfo>& servers,
                                                  double cutoff) {
    std::vector<ServerInfo> changed;
    if (servers.empty()) {
        return changed;
    }
    for (const auto& s : servers) {
        _heartbeats->discard(s.sshPubkey);
    }
    // registered_at pins the registration that expired: a re-registration of the same key
    // saved meanwhile (the registry lock is not held here) must stay online.
    _store.transaction([&](StoreTx& tx) {
        for (const auto& s : servers) {
            if (tx.execute("UPDATE pairing_servers SET online = 0, pairing_code = NULL,"
                           " last_heartbeat = $1 WHERE ssh_pubkey = $2 AND registered_at = $3"
                           " AND online = 1 AND last_heartbeat < $4",
                           {s.lastHeartbeat, s.sshPubkey, s.registeredAt, cutoff}) > 0) {
                changed.push_back(s);
            }
        }
    });
    return changed;
}

}  // namespace switchboard::pairing
