// Payloads of the signaling plugin's bus events: peer.online (with registered_at, which orders
// two registrations of one agent on two nodes) and peer.offline (with the reason: closed,
// timeout, dropped, replaced, left).
#pragma once

#include <string>

#include "PeerRegistry.h"

namespace switchboard::signaling {

struct SignalingEvents {
    static std::string online(const Peer& peer);
    static std::string offline(const Peer& peer, OfflineReason reason);
};

}  // namespace switchboard::signaling
