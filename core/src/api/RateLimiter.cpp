// Fixed-window failure limiter (see switchboard/RateLimiter.h).
#include "switchboard/RateLimiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace switchboard {

namespace {
constexpr std::size_t kSweepAbove = 100000;
}

std::string addressNetwork(const std::string& address) {
    char text[INET6_ADDRSTRLEN] = {};
    in_addr v4{};
    if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
        v4.s_addr &= htonl(0xffffff00u);
        inet_ntop(AF_INET, &v4, text, sizeof text);
        return std::string(text) + "/24";
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) {
        return address;
    }
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6.s6_addr, kMapped, sizeof kMapped) == 0) {
        std::memcpy(&v4.s_addr, v6.s6_addr + 12, 4);
        v4.s_addr &= htonl(0xffffff00u);
        inet_ntop(AF_INET, &v4, text, sizeof text);
        return std::string(text) + "/24";
    }
    std::memset(v6.s6_addr + 8, 0, 8);
    inet_ntop(AF_INET6, &v6, text, sizeof text);
    return std::string(text) + "/64";
}

RateLimiter::RateLimiter(std::uint64_t perKey, std::uint64_t total,
                         std::chrono::milliseconds window, std::uint64_t perKeyUnderAttack)
    : _perKey(perKey),
      _total(total),
      _perKeyUnderAttack(std::max<std::uint64_t>(perKeyUnderAttack, 1)),
      _windowMs(std::max<std::int64_t>(window.count(), 1)) {}

std::int64_t RateLimiter::nowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

bool RateLimiter::attackedLocked(std::int64_t now) const {
    return _total > 0 && _all.count >= _total && now < _all.start + _windowMs;
}

std::uint64_t RateLimiter::allowanceLocked(std::int64_t now) const {
    if (!attackedLocked(now)) {
        return _perKey;
    }
    return _perKey == 0 ? _perKeyUnderAttack : std::min(_perKey, _perKeyUnderAttack);
}

std::int64_t RateLimiter::waitLocked(const std::string& key, std::int64_t now) const {
    std::uint64_t allowance = allowanceLocked(now);
    auto it = _keys.find(key);
    if (allowance == 0 || it == _keys.end() || it->second.count < allowance ||
        now >= it->second.start + _windowMs) {
        return 0;
    }
    // Blocked until the key's own window ends (an attack ends no later: its window started
    // before this key's last failure was counted in it).
    return (it->second.start + _windowMs - now + 999) / 1000;
}

std::int64_t RateLimiter::retryAfter(const std::string& key) {
    std::int64_t now = nowMs();
    if (now >= _blockedUntil.load(std::memory_order_relaxed)) {
        return 0;
    }
    std::lock_guard<std::mutex> lock(_mutex);
    return waitLocked(key, now);
}

void RateLimiter::fail(const std::string& key) {
    std::int64_t now = nowMs();
    std::lock_guard<std::mutex> lock(_mutex);
    countLocked(key, now);
}

std::int64_t RateLimiter::attempt(const std::string& key) {
    std::int64_t now = nowMs();
    std::lock_guard<std::mutex> lock(_mutex);
    if (std::int64_t wait = waitLocked(key, now)) {
        return wait;
    }
    countLocked(key, now);
    return 0;
}

void RateLimiter::forgive(const std::string& key) {
    std::int64_t now = nowMs();
    std::lock_guard<std::mutex> lock(_mutex);
    if (now < _all.start + _windowMs && _all.count > 0) {
        --_all.count;
    }
    auto it = _keys.find(key);
    if (it != _keys.end() && now < it->second.start + _windowMs && it->second.count > 0) {
        --it->second.count;
    }
}

void RateLimiter::countLocked(const std::string& key, std::int64_t now) {
    if (now >= _all.start + _windowMs) {
        _all = Window{now, 0};
    }
    ++_all.count;
    if (_perKey == 0 && _total == 0) {
        return;
    }
    if (_keys.size() > kSweepAbove) {
        sweep(now);
    }
    Window& w = _keys[key];
    if (now >= w.start + _windowMs) {
        w = Window{now, 0};
    }
    ++w.count;
    // The smallest allowance this key can meet in its window: the attack's where a total is
    // set. From there some key may be blocked, so checks leave the fast path until then.
    std::uint64_t least = _perKey;
    if (_total > 0) {
        least = _perKey == 0 ? _perKeyUnderAttack : std::min(_perKey, _perKeyUnderAttack);
    }
    if (w.count >= least) {
        _blockedUntil = std::max(_blockedUntil.load(), w.start + _windowMs);
    }
}

void RateLimiter::sweep(std::int64_t now) {
    for (auto it = _keys.begin(); it != _keys.end();) {
        it = now >= it->second.start + _windowMs ? _keys.erase(it) : std::next(it);
    }
}

bool RateLimiter::underAttack() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return attackedLocked(nowMs());
}

std::size_t RateLimiter::trackedKeys() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _keys.size();
}

}  // namespace switchboard
