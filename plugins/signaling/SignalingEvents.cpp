// Signaling bus payloads (see SignalingEvents.h).
#include "SignalingEvents.h"

#include "switchboard/Json.h"

namespace switchboard::signaling {

namespace {

std::string common(const Peer& peer) {
    return "\"organization_id\":" + std::to_string(peer.organizationId) +
           ",\"peer_id\":" + json::quote(peer.peerId) +
           ",\"user_id\":" + std::to_string(peer.userId) +
           ",\"virtual_ip\":" + json::quote(peer.virtualIp) +
           ",\"connection_id\":" + json::quote(peer.connectionId);
}

}  // namespace

std::string SignalingEvents::online(const Peer& peer) {
    rapidjson::StringBuffer at;
    rapidjson::Writer<rapidjson::StringBuffer> w(at);
    w.Double(peer.registeredAt);
    return "{" + common(peer) + ",\"registered_at\":" + std::string(at.GetString(), at.GetSize()) +
           ",\"peer\":" + peer.json + "}";
}

std::string SignalingEvents::offline(const Peer& peer, OfflineReason reason) {
    return "{" + common(peer) + ",\"reason\":\"" + reasonName(reason) + "\"}";
}

}  // namespace switchboard::signaling
