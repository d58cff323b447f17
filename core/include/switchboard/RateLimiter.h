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
    /// Counts an attempt of `key` before its expensive part (e.g. a password hash), in one step
    /// with the check, so concurrent attempts cannot all pass a check that each of them alone
    /// would fail. Returns 0 and counts the attempt as a failure if `key` may try now, else the
    /// seconds to wait (not counted). Call forgive() when the attempt turns out to succeed.
    std::int64_t attempt(const std::string& key);
    /// Takes back one attempt() of `key` in the current window (a success does not count).
    void forgive(const std::string& key);
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
    /// Seconds `key` must wait (0: none); _mutex held.
    std::int64_t waitLocked(const std::string& key, std::int64_t now) const;
    /// Counts one failure of `key`; _mutex held.
    void countLocked(const std::string& key, std::int64_t now);

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
