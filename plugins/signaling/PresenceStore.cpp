// Presence rows (see PresenceStore.h).
#include "PresenceStore.h"

namespace switchboard::signaling {

void PresenceStore::online(StoreTx& tx, const Peer& peer, const std::string& node, double now) {
    tx.execute(
        "INSERT INTO signaling_peers (org_id, peer_id, connection_id, node_id, user_id,"
        " registered_at, online, peer, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)"
        " ON CONFLICT (org_id, peer_id) DO UPDATE SET connection_id = excluded.connection_id,"
        " node_id = excluded.node_id, user_id = excluded.user_id,"
        " registered_at = excluded.registered_at, online = 1, peer = excluded.peer,"
        " updated_at = excluded.updated_at"
        " WHERE signaling_peers.online = 0"
        " OR signaling_peers.connection_id = excluded.connection_id"
        " OR signaling_peers.registered_at < excluded.registered_at"
        " OR (signaling_peers.registered_at = excluded.registered_at"
        " AND signaling_peers.connection_id < excluded.connection_id)",
        {peer.organizationId, peer.peerId, peer.connectionId, node, peer.userId, peer.registeredAt,
         peer.json, now});
}

void PresenceStore::offline(StoreTx& tx, const Peer& peer, double now) {
    // Placeholders in order of appearance (Store.h): SQLite binds them by position.
    tx.execute(
        "UPDATE signaling_peers SET online = 0, updated_at = $1"
        " WHERE org_id = $2 AND peer_id = $3 AND connection_id = $4",
        {now, peer.organizationId, peer.peerId, peer.connectionId});
}

bool PresenceStore::claim(StoreTx& tx, const Peer& peer, double now) {
    return tx.execute(
               "UPDATE signaling_peers SET online = 0, updated_at = $1"
               " WHERE org_id = $2 AND peer_id = $3 AND connection_id = $4 AND online = 1",
               {now, peer.organizationId, peer.peerId, peer.connectionId}) > 0;
}

void PresenceStore::purge(StoreTx& tx, double before) {
    tx.execute("DELETE FROM signaling_peers WHERE online = 0 AND updated_at < $1", {before});
}

std::vector<PeerRegistry::Remote> PresenceStore::onlinePeers() {
    auto rows = _store.query(
        "SELECT org_id, peer, connection_id, registered_at, node_id FROM signaling_peers"
        " WHERE online = 1");
    std::vector<PeerRegistry::Remote> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        auto peer =
            Peer::fromJson(row.getInt(0), row.getString(1), row.getString(2), row.getDouble(3));
        if (peer) {
            out.push_back({peer, row.getString(4)});
        }
    }
    return out;
}

}  // namespace switchboard::signaling
