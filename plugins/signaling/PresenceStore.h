// Presence rows for several nodes (table signaling_peers, migration 2 of SignalingStore): which
// node holds each agent's connection. Written by ClusterPresence in order, read when a node
// starts or its bus reconnects; a conditional update decides which node announces a peer of a
// node that died. Portable SQL, as SignalingStore.
#pragma once

#include <string>
#include <vector>

#include "PeerRegistry.h"
#include "switchboard/Store.h"

namespace switchboard::signaling {

class PresenceStore {
public:
    explicit PresenceStore(Store& store) : _store(store) {}

    /// `peer` registered on `node`: its row, unless the stored row is a newer registration that
    /// is still online (Peer::newerThan).
    static void online(StoreTx& tx, const Peer& peer, const std::string& node, double now);
    /// `peer`'s connection ended: its row goes offline if it is still that connection.
    static void offline(StoreTx& tx, const Peer& peer, double now);
    /// Takes the row of `peer` (of a node that died) offline if it is still that connection and
    /// online; true if this call did, so that one node announces it.
    static bool claim(StoreTx& tx, const Peer& peer, double now);
    /// Deletes offline rows last changed before `before`.
    static void purge(StoreTx& tx, double before);

    /// Every online row.
    std::vector<PeerRegistry::Remote> onlinePeers();

    Store& store() { return _store; }

private:
    Store& _store;
};

}  // namespace switchboard::signaling
