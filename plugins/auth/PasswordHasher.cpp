// Bounded Argon2id hashing (see PasswordHasher.h).
#include "PasswordHasher.h"

#include <sodium.h>

#include <stdexcept>

namespace switchboard::auth {

PasswordHasher::Slot::Slot(PasswordHasher& owner) : _owner(owner) {
    std::unique_lock<std::mutex> lock(_owner._mutex);
    if (_owner._busy >= _owner._parallel) {
        _owner._waiting.fetch_add(1, std::memory_order_relaxed);
        _owner._free.wait(lock, [this] { return _owner._busy < _owner._parallel; });
        _owner._waiting.fetch_sub(1, std::memory_order_relaxed);
    }
    ++_owner._busy;
}

PasswordHasher::Slot::~Slot() {
    {
        std::lock_guard<std::mutex> lock(_owner._mutex);
        --_owner._busy;
    }
    _owner._free.notify_one();
}

PasswordHasher::PasswordHasher(std::uint64_t memoryBytes, std::uint64_t passes,
                               std::size_t parallel)
    : _memory(memoryBytes), _passes(passes), _parallel(parallel == 0 ? 1 : parallel) {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium cannot be initialised");
    }
    char pepper[32];
    randombytes_buf(pepper, sizeof pepper);
    _dummy = hash(std::string(pepper, sizeof pepper));
}

std::string PasswordHasher::hash(const std::string& password) {
    char out[crypto_pwhash_STRBYTES];
    Slot slot(*this);
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), _passes,
                              static_cast<std::size_t>(_memory),
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing failed (out of memory?)");
    }
    return out;
}

bool PasswordHasher::verify(const std::string& encoded, const std::string& password) {
    Slot slot(*this);
    return crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
}

void PasswordHasher::verifyDummy(const std::string& password) {
    verify(_dummy, password);
}

bool PasswordHasher::needsRehash(const std::string& encoded) const {
    return crypto_pwhash_str_needs_rehash(encoded.c_str(), _passes,
                                          static_cast<std::size_t>(_memory)) != 0;
}

bool PasswordHasher::isEncodedHash(const std::string& text) {
    return text.rfind("$argon2id$", 0) == 0 || text.rfind("$argon2i$", 0) == 0;
}

}  // namespace switchboard::auth
