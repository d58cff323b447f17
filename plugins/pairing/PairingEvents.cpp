// Pairing event payloads (see PairingEvents.h).
#include "PairingEvents.h"

#include "switchboard/Json.h"

namespace switchboard::pairing {

std::string PairingEvents::online(const ServerInfo& s) {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::writeString(w, "ssh_pubkey", s.sshPubkey);
    json::writeString(w, "ssh_user", s.sshUser);
    if (s.code != 0) {
        w.Key("pairing_code");
        w.Int(s.code);
    }
    w.Key("last_heartbeat");
    w.Double(s.lastHeartbeat);
    w.EndObject();
    return buffer.GetString();
}

std::string PairingEvents::offline(const ServerInfo& s) {
    return "{\"ssh_pubkey\":" + json::quote(s.sshPubkey) +
           ",\"ssh_user\":" + json::quote(s.sshUser) +
           ",\"pairing_code\":" + std::to_string(s.code) + "}";
}

}  // namespace switchboard::pairing
