// Server secrets with libsodium (see ServerSecret.h).
#include "ServerSecret.h"

#include <sodium.h>

#include <stdexcept>

namespace switchboard::pairing {

namespace {

void ensureSodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        throw std::runtime_error("libsodium failed to initialise");
    }
}

std::string toHex(const unsigned char* data, std::size_t size) {
    std::string hex(size * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), data, size);
    hex.pop_back();
    return hex;
}

}  // namespace

std::string ServerSecret::generate() {
    ensureSodium();
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    return toHex(raw, sizeof raw);
}

std::string ServerSecret::hash(const std::string& sshPubkey, const std::string& secret) {
    ensureSodium();
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(sshPubkey.data()),
                              sshPubkey.size());
    const unsigned char separator = 0;
    crypto_hash_sha256_update(&state, &separator, 1);
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, digest);
    return toHex(digest, sizeof digest);
}

bool ServerSecret::matches(const std::string& storedHash, const std::string& sshPubkey,
                           const std::string& secret) {
    if (storedHash.size() != crypto_hash_sha256_BYTES * 2) {
        return false;
    }
    std::string presented = hash(sshPubkey, secret);
    return sodium_memcmp(presented.data(), storedHash.data(), storedHash.size()) == 0;
}

}  // namespace switchboard::pairing
