// The SSH host key whose public half GET /api/ssh-hostkey serves when no ssh_host_key file is
// configured: an ed25519 key pair generated once and kept under the data directory as an
// OpenSSH private key file (openssh-key-v1, mode 0600) plus its .pub line.
#pragma once

#include <string>

namespace switchboard::devices {

class SshHostKey {
public:
    /// Loads `<dir>/ssh_host_ed25519_key`, or generates it as a SecretFile (mode 0600 from
    /// creation) when it does not exist; writes the .pub file when it is missing or stale.
    /// Returns the public key line; `created` tells which happened. Throws std::runtime_error
    /// naming the file if it cannot be read, written or parsed.
    static std::string loadOrCreate(const std::string& dir, bool& created);

    /// The OpenSSH private key file text (openssh-key-v1, unencrypted) of an ed25519 key pair
    /// (libsodium layout: 32-byte public key, 64-byte secret key = seed || public key).
    static std::string privateKeyFile(const unsigned char* publicKey,
                                      const unsigned char* secretKey, const std::string& comment);
    /// Extracts the public key line from privateKeyFile() text; throws std::runtime_error if it
    /// is not an unencrypted ed25519 openssh-key-v1 key whose halves match.
    static std::string publicLineOf(const std::string& privateKeyText);
    /// "ssh-ed25519 <base64 blob> <comment>"
    static std::string publicLine(const unsigned char* publicKey, const std::string& comment);
};

}  // namespace switchboard::devices
