// Event payloads the pairing plugin publishes: server.online and server.offline.
#pragma once

#include <string>

#include "ServerRegistry.h"

namespace switchboard::pairing {

class PairingEvents {
public:
    /// {"ssh_pubkey": ..., "ssh_user": ..., "pairing_code": ..., "last_heartbeat": ...}, without
    /// pairing_code while the server holds none
    static std::string online(const ServerInfo& server);
    /// {"ssh_pubkey": ..., "ssh_user": ..., "pairing_code": ...}: the code it held
    static std::string offline(const ServerInfo& server);
};

}  // namespace switchboard::pairing
