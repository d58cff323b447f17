// One-time registration tokens (6 hex digits) and generated device keys. Tokens are kept only as
// SHA-256 hashes bound to their device and compared in constant time.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace switchboard::devices {

class DeviceTokens {
public:
    using Hash = std::array<std::uint8_t, 32>;

    /// A fresh random token: 6 uppercase hex digits, e.g. "3FA09C".
    static std::string generate();
    /// A fresh device secret, issued at registration: 32 lowercase hex digits (128 bits).
    static std::string generateSecret();
    /// A fresh random device key: "device-" + 16 lowercase hex digits.
    static std::string generateDeviceKey();
    /// Upper-cases `input` into `code` if it is exactly 6 hex digits (either case), ignoring
    /// blanks around them.
    static bool normalize(const std::string& input, std::string& code);
    /// SHA-256 over the device key, a NUL and the normalized code: equal codes of different
    /// devices hash differently.
    static Hash hash(const std::string& deviceKey, const std::string& code);
    /// Constant-time comparison.
    static bool equal(const Hash& a, const Hash& b);
    static std::string toHex(const Hash& hash);
    /// False unless `hex` is 64 hex digits.
    static bool fromHex(const std::string& hex, Hash& out);
};

}  // namespace switchboard::devices
