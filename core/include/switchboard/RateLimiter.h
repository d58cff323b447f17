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

/// The network a client address belongs to, as a limiter key: "192.0.2.0/24" for IPv4 (and
/// IPv4-mapped IPv6), "2001:db8:1:2::/64" for IPv6; what does not parse is returned unchanged.
/// One host usually holds many addresses of its /24 or /64, so per-address limits alone let it
/// multiply its allowance.
std::string addressNetwork(const std::string& address);

class RateLimiter {
public:
    /// At most `perKey` failures per key in each `window` (0: no limit). `total` (0: none) is
    /// no switch that locks everyone out: once the failures of all keys reach it in a window,
    /// every key's allowance for the rest of that window shrinks to `perKeyUnderAttack`
    /// (at least 1), so a key that has not failed yet still gets its attempt while a
    /// distributed guesser gets one guess per key instead of `perKey`.
    RateLimiter(std::uint64_t perKey, std::uint64_t total, std::chrono::milliseconds window,
                std::uint64_t perKeyUnderAttack = 1);

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
    /// True while the failures of all keys are at or above `total` in the current window.
    bool underAttack() const;

private:
    using Clock = std::chrono::steady_clock;
    struct Window {
        std::int64_t start = 0;  ///< ms on the steady clock
        std::uint64_t count = 0;
    };
    std::int64_t nowMs() const;
    void sweep(std::int64_t now);
    bool attackedLocked(std::int64_t now) const;
    /// The per-key allowance now (0: no limit); _mutex held.
    std::uint64_t allowanceLocked(std::int64_t now) const;
    /// Seconds `key` must wait (0: none); _mutex held.
    std::int64_t waitLocked(const std::string& key, std::int64_t now) const;
    /// Counts one failure of `key`; _mutex held.
    void countLocked(const std::string& key, std::int64_t now);

    const std::uint64_t _perKey;
    const std::uint64_t _total;
    const std::uint64_t _perKeyUnderAttack;
    const std::int64_t _windowMs;
    mutable std::mutex _mutex;
    std::unordered_map<std::string, Window> _keys;
    Window _all;
    /// Latest time (ms) until which some key or the total is blocked: the fast path.
    std::atomic<std::int64_t> _blockedUntil{0};
};

}  // namespace switchboard
