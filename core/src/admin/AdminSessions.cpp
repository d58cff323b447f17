// Admin console sessions (see AdminSessions.h).
#include "admin/AdminSessions.h"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace switchboard {

AdminSessions::AdminSessions() {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium failed to initialise");
    }
    randombytes_buf(_csrfKey, sizeof _csrfKey);
}

std::string AdminSessions::csrfToken(const std::string& id) const {
    unsigned char hash[32];
    std::string input = "csrf:" + id;
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(), _csrfKey, sizeof _csrfKey);
    char hex[2 * sizeof hash + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    return hex;
}

std::string AdminSessions::digest(const std::string& id) {
    // Looked up by a digest: neither a memory dump nor the map's comparisons reveal an id.
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(id.data()),
                       id.size(), nullptr, 0);
    return std::string(reinterpret_cast<const char*>(hash), sizeof hash);
}

std::string AdminSessions::create(std::chrono::milliseconds ttl) {
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof bytes);
    char hex[2 * sizeof bytes + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
    std::string id(hex);
    Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(_mutex);
    sweepLocked(now);
    if (_expiry.size() >= kMaxSessions) {
        auto oldest =
            std::min_element(_expiry.begin(), _expiry.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        _expiry.erase(oldest);
    }
    _expiry[digest(id)] = now + ttl;
    return id;
}

bool AdminSessions::valid(const std::string& id) {
    if (id.size() != 64) {
        return false;
    }
    std::string key = digest(id);
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _expiry.find(key);
    if (it == _expiry.end()) {
        return false;
    }
    if (it->second <= Clock::now()) {
        _expiry.erase(it);
        return false;
    }
    return true;
}

void AdminSessions::end(const std::string& id) {
    std::string key = digest(id);
    std::lock_guard<std::mutex> lock(_mutex);
    _expiry.erase(key);
}

void AdminSessions::clear() {
    std::lock_guard<std::mutex> lock(_mutex);
    _expiry.clear();
}

std::size_t AdminSessions::size() {
    std::lock_guard<std::mutex> lock(_mutex);
    sweepLocked(Clock::now());
    return _expiry.size();
}

void AdminSessions::sweepLocked(Clock::time_point now) {
    for (auto it = _expiry.begin(); it != _expiry.end();) {
        it = it->second <= now ? _expiry.erase(it) : std::next(it);
    }
}

}  // namespace switchboard
