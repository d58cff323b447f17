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
                               // The server secret issued at registration (its hash).
                               {2, {"ALTER TABLE pairing_servers ADD COLUMN secret_hash TEXT"}}});
    _heartbeats = _store.writeBehind(
        "pairing.heartbeat",
        "UPDATE pairing_servers SET last_heartbeat = $1 WHERE ssh_pubkey = $2 AND online = 1");
}

std::vector<ServerInfo> PairingStore::loadAll() {
    std::vector<ServerInfo> servers;
    for (const auto& row : _store.query(
             "SELECT ssh_pubkey, ssh_user, ssh_tunnel, listen_pubkey_tunnel, pairing_code, online,"
             " last_heartbeat, registered_at, secret_hash FROM pairing_servers")) {
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
        servers.push_back(std::move(s));
    }
    return servers;
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

void PairingStore::markOffline(const std::vector<ServerInfo>& servers) {
    if (servers.empty()) {
        return;
    }
    for (const auto& s : servers) {
        _heartbeats->discard(s.sshPubkey);
    }
    // registered_at pins the registration that expired: a re-registration of the same key
    // saved meanwhile (the registry lock is not held here) must stay online.
    _store.transaction([&](StoreTx& tx) {
        for (const auto& s : servers) {
            tx.execute(
                "UPDATE pairing_servers SET online = 0, pairing_code = NULL,"
                " last_heartbeat = $1 WHERE ssh_pubkey = $2 AND registered_at = $3",
                {s.lastHeartbeat, s.sshPubkey, s.registeredAt});
        }
    });
}

}  // namespace switchboard::pairing
