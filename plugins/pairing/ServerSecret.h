// The server secret: issued to a TunneLink server at registration, kept by the plugin only as a
// hash bound to the server's key, and (with require_server_secret) asked for on heartbeats and
// re-registrations, so that knowing a server's public key is no longer enough to act for it.
#pragma once

#include <string>

namespace switchboard::pairing {

class ServerSecret {
public:
    /// A fresh secret: 32 lowercase hex digits (128 random bits).
    static std::string generate();
    /// Hex SHA-256 over the server's key, a NUL and the secret.
    static std::string hash(const std::string& sshPubkey, const std::string& secret);
    /// Whether `secret` is the one `storedHash` was made from (constant time); false when
    /// no secret was stored ("").
    static bool matches(const std::string& storedHash, const std::string& sshPubkey,
                        const std::string& secret);
};

}  // namespace switchboard::pairing
