// Registration tokens with libsodium (see DeviceTokens.h).
#include "DeviceTokens.h"

#include <sodium.h>

#include <cctype>
#include <stdexcept>

namespace switchboard::devices {

namespace {

void initSodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        throw std::runtime_error("libsodium failed to initialise");
    }
}

std::string randomHex(std::size_t bytes, bool upper) {
    initSodium();
    std::array<std::uint8_t, 16> raw{};
    randombytes_buf(raw.data(), bytes);
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        out += digits[raw[i] >> 4];
        out += digits[raw[i] & 0x0f];
    }
    return out;
}

}  // namespace

std::string DeviceTokens::generate() {
    return randomHex(3, true);
}

std::string DeviceTokens::generateSecret() {
    return randomHex(16, false);
}

std::string DeviceTokens::generateDeviceKey() {
    return "device-" + randomHex(8, false);
}

bool DeviceTokens::normalize(const std::string& input, std::string& code) {
    // Blanks around a pasted code are forgiven; anything else must be exactly 6 hex digits.
    std::size_t first = input.find_first_not_of(" \t\r\n");
    std::size_t last = input.find_last_not_of(" \t\r\n");
    if (first == std::string::npos || last - first + 1 != 6) {
        return false;
    }
    code.clear();
    for (char c : input.substr(first, 6)) {
        if (std::isxdigit(static_cast<unsigned char>(c)) == 0) {
            return false;
        }
        code += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return true;
}

DeviceTokens::Hash DeviceTokens::hash(const std::string& deviceKey, const std::string& code) {
    initSodium();
    Hash out{};
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(deviceKey.data()),
                              deviceKey.size());
    const unsigned char separator = 0;
    crypto_hash_sha256_update(&state, &separator, 1);
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(code.data()),
                              code.size());
    crypto_hash_sha256_final(&state, out.data());
    return out;
}

bool DeviceTokens::equal(const Hash& a, const Hash& b) {
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string DeviceTokens::toHex(const Hash& hash) {
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, hash.data(), hash.size());
    return hex;
}

bool DeviceTokens::fromHex(const std::string& hex, Hash& out) {
    if (hex.size() != 64) {
        return false;
    }
    std::size_t length = 0;
    return sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &length,
                          nullptr) == 0 &&
           length == out.size();
}

}  // namespace switchboard::devices
