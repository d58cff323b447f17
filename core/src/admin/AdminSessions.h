// Console sessions of the admin listener: the cookie carries a random session id, never the
// admin token; the server keeps only a digest of each id with its expiry, in memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace switchboard {

/// Thread-safe. Sessions end at their expiry, on end(), and all at once on clear() (the admin
/// token changed) or a restart. At most kMaxSessions live; a new one beyond ends the oldest.
class AdminSessions {
public:
    static constexpr std::size_t kMaxSessions = 1000;
    using Clock = std::chrono::steady_clock;

    AdminSessions();

    /// A new session lasting `ttl`; returns its id (64 hex digits) for the cookie.
    std::string create(std::chrono::milliseconds ttl);
    /// True if `id` names a live session.
    bool valid(const std::string& id);
    /// Ends the session `id` (nothing if there is none).
    void end(const std::string& id);
    /// The CSRF token of session `id` (64 hex digits): a keyed digest of the id under a key
    /// drawn at start, so it needs no storage, differs from the cookie and cannot be derived
    /// from it without the key. The console sends it back as X-CSRF-Token.
    std::string csrfToken(const std::string& id) const;
    void clear();
    std::size_t size();

private:
    static std::string digest(const std::string& id);
    void sweepLocked(Clock::time_point now);

    unsigned char _csrfKey[32];
    std::mutex _mutex;
    std::map<std::string, Clock::time_point> _expiry;  ///< by digest of the id
};

}  // namespace switchboard
