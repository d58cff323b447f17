// Fixed-window failure limiter (see switchboard/RateLimiter.h).
#include "switchboard/RateLimiter.h"

#include <algorithm>

namespace switchboard {

namespace {
constexpr std::size_t kSweepAbove = 100000;
}

RateLimiter::RateLimiter(std::uint64_t perKey, std::uint64_t total,
                         std::chrono::milliseconds window)
    : _perKey(perKey), _total(total), _windowMs(std::max<std::int64_t>(window.count(), 1)) {}

std::int64_t RateLimiter::nowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

std::int64_t RateLimiter::waitLocked(const std::string& key, std::int64_t now) const {
    std::int64_t until = 0;
    if (_total > 0 && _all.count >= _total && now < _all.start + _windowMs) {
        until = _all.start + _windowMs;
    }
    auto it = _keys.find(key);
    if (_perKey > 0 && it != _keys.end() && it->second.count >= _perKey &&
        now < it->second.start + _windowMs) {
        until = std::max(until, it->second.start + _windowMs);
    }
    if (until <= now) {
        return 0;
    }
    return (until - now + 999) / 1000;
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
    if (_total > 0 && _all.count >= _total) {
        _blockedUntil = std::max(_blockedUntil.load(), _all.start + _windowMs);
    }
    if (_perKey == 0) {
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
    if (w.count >= _perKey) {
        _blockedUntil = std::max(_blockedUntil.load(), w.start + _windowMs);
    }
}

void RateLimiter::sweep(std::int64_t now) {
    for (auto it = _keys.begin(); it != _keys.end();) {
        it = now >= it->second.start + _windowMs ? _keys.erase(it) : std::next(it);
    }
}

std::size_t RateLimiter::trackedKeys() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _keys.size();
}

}  // namespace switchboard
