// Failure rate limiting for brute-force-prone endpoints (pairing codes, device tokens, logins):
// fixed windows per key (e.g. client address) and in total. Thread-safe; a check costs one
// atomic load while nobody is limited.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchboard {

class RateLimiter {
public:
    /// At most `perKey` failures per key and `total` failures overall in each `window`
    /// (0 disables that limit).
    RateLimiter(std::uint64_t perKey, std::uint64_t total, std::chrono::milliseconds window);

    /// Seconds until `key` may try again (>= 1), or 0 if it may try now.
    std::int64_t retryAfter(const std::string& key);
    /// Records one failure of `key`.
    void fail(const std::string& key);
    /// Keys tracked now (bounded: expired windows are swept).
    std::size_t trackedKeys() const;

private:
    using Clock = std::chrono::steady_clock;
    struct Window {
        std::int64_t start = 0;  ///< ms on the steady clock
        std::uint64_t count = 0;
    };
    std::int64_t nowMs() const;
    void sweep(std::int64_t now);

    const std::uint64_t _perKey;
    const std::uint64_t _total;
    const std::int64_t _windowMs;
    mutable std::mutex _mutex;
    std::unordered_map<std::string, Window> _keys;
    Window _all;
    /// Latest time (ms) until which some key or the total is blocked: the fast path.
    std::atomic<std::int64_t> _blockedUntil{0};
};

}  // namespace switchboard
