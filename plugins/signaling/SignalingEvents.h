// Payloads of the signaling plugin's bus events: peer.online and peer.offline (with the reason:
// closed, timeout, dropped, replaced, left).
#pragma once

#include <string>

#include "PeerRegistry.h"

namespace switchboard::signaling {

struct SignalingEvents {
    static std::string online(const Peer& peer);
    static std::string offline(const Peer& peer, OfflineReason reason);
};

}  // namespace switchboard::signaling
