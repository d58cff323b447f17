// OpenSSH public key lines ("ssh-ed25519 AAAAC3Nz... comment"): validation of what devices send,
// and the wire-format helpers the host key uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::devices {

class SshPublicKey {
public:
    /// The accepted key types, comma-separated, for messages and docs.
    static const char* acceptedTypes();

    /// Checks `text` is one OpenSSH public key line of an accepted type whose base64 blob
    /// decodes and holds that type's structure. On success `normalized` is
    /// "<type> <base64>[ <comment>]" (outer whitespace and the trailing newline removed);
    /// otherwise `error` says what is wrong.
    static bool validate(const std::string& text, std::string& normalized, std::string& error);

    /// RFC 4251 string: uint32 big-endian length + bytes.
    static std::string wireString(std::string_view bytes);
    static std::string base64(std::string_view bytes);
    /// Strict standard base64 (padding required, no whitespace). False if malformed.
    static bool unbase64(std::string_view text, std::string& bytes);
};

}  // namespace switchboard::devices
