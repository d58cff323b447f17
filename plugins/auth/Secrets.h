// Random identifiers and one-way digests of bearer secrets (session cookies, reset tokens), so
// the store never holds a value that would let someone who reads it log in.
#pragma once

#include <cstddef>
#include <string>

namespace switchboard::auth {

/// `bytes` random bytes (libsodium) as lower-case hex.
std::string randomHex(std::size_t bytes);
/// BLAKE2b-256 of `secret` as lower-case hex.
std::string digestHex(const std::string& secret);

}  // namespace switchboard::auth
