// Random identifiers and digests (see Secrets.h).
#include "Secrets.h"

#include <sodium.h>

#include <vector>

namespace switchboard::auth {

namespace {

std::string toHex(const unsigned char* data, std::size_t size) {
    std::string hex(size * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), data, size);
    hex.pop_back();
    return hex;
}

}  // namespace

std::string randomHex(std::size_t bytes) {
    std::vector<unsigned char> buffer(bytes);
    randombytes_buf(buffer.data(), buffer.size());
    return toHex(buffer.data(), buffer.size());
}

std::string digestHex(const std::string& secret) {
    unsigned char out[crypto_generichash_BYTES];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()),
                       secret.size(), nullptr, 0);
    return toHex(out, sizeof out);
}

}  // namespace switchboard::auth
