// Cookie sessions (the seed ServerAPI's sessionToken): kept in memory for lookups on every
// request (shared lock, no store I/O), persisted on login, last-use times written behind.
// Ends sessions on idle timeout, absolute lifetime and the Lua session_valid rule, both in a
// periodic sweep (one thread: the host timer) and on use; every end publishes session.revoked.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "AuthConfig.h"
#include "AuthStore.h"
#include "TokenService.h"
#include "switchboard/HostContext.h"

namespace switchboard::auth {

/// What a request learns about its session (a copy; the session may end meanwhile).
struct SessionInfo {
    std::string id;
    std::int64_t userId = 0;
    std::string login;
    std::int64_t createdAt = 0;  ///< ms
    std::int64_t lastUsed = 0;   ///< ms
    std::string peer;
    std::string jti;
    std::int64_t jtiExpires = 0;
};

class SessionManager {
public:
    /// A new login: the cookie value (only ever in memory and in the Set-Cookie), the session
    /// and the JWT issued with it.
    struct Login {
        std::string cookie;
        SessionInfo session;
        TokenService::Issued jwt;
    };

    SessionManager(std::shared_ptr<const AuthConfig> config, AuthStore& store, TokenService& tokens,
                   HostContext& context);

    /// Loads persisted sessions, dropping those that ended while the server was down.
    void load();
    /// Starts a session for an account and issues its JWT; durable when it returns. Ends the
    /// account's oldest session beyond sessions.max_per_user. Throws StoreError.
    Login create(std::int64_t userId, const std::string& login, const std::string& peer);
    /// The live session of a cookie value, with its last use updated; nullopt if unknown or if
    /// it just ended (idle, lifetime, or session_valid returned false).
    std::optional<SessionInfo> use(const std::string& cookie);
    /// The live session with this public id, without touching it.
    std::optional<SessionInfo> find(const std::string& id) const;
    /// Ends a session and revokes the JWT issued with it. False if there was none.
    bool revoke(const std::string& id, const std::string& reason);
    /// Ends every session of an account except `keepId`; returns how many ended. With
    /// `broadcast`, other nodes sharing the store end theirs too (auth.sessions.user_revoked).
    std::size_t revokeUser(std::int64_t userId, const std::string& reason,
                           const std::string& keepId = "", bool broadcast = true);
    /// Forgets a session another node ended (it stored the end and revoked the JWT).
    void forget(const std::string& id);
    /// After the bus lost events: forgets sessions the store no longer has.
    void resync();
    /// Issues a new JWT for a session (revoking the old one), e.g. after a password change.
    TokenService::Issued reissue(const std::string& id);
    /// Live sessions (all, or one account's), oldest first.
    std::vector<SessionInfo> list(std::optional<std::int64_t> userId = std::nullopt) const;
    std::size_t count() const;
    /// The periodic check: expiry, then session_valid for each remaining session.
    void sweep();

private:
    struct Session {
        std::string id;
        std::string tokenHash;
        std::int64_t userId = 0;
        std::string login;
        std::int64_t createdAt = 0;
        std::string peer;
        std::atomic<std::int64_t> lastUsed{0};
        std::atomic<std::int64_t> lastStored{0};
        mutable std::mutex linkMutex;  ///< guards jti, jtiExpires
        std::string jti;
        std::int64_t jtiExpires = 0;
        SessionInfo info() const;
    };
    using SessionPtr = std::shared_ptr<Session>;

    enum class Verdict { Keep, End, Failed };

    /// "" if the session is still within its idle timeout and lifetime, else the reason.
    std::string expiryReason(const Session& s, std::int64_t now) const;
    /// Runs session_valid(session) if defined.
    Verdict askLua(const Session& s);
    void add(const SessionPtr& s);
    /// A session another node created, from the store (nullopt if unknown or over).
    SessionPtr adopt(const std::string& tokenHash);
    /// "" if the session is still live once its last use on other nodes (the store's) is
    /// counted; else the reason. Reads the store only when memory says idle.
    std::string currentExpiry(Session& s, std::int64_t now);
    SessionPtr detach(const std::string& id);
    /// Store, token revocation and event for a detached session.
    void finish(const SessionPtr& s, const std::string& reason);

    std::shared_ptr<const AuthConfig> _config;
    AuthStore& _store;
    TokenService& _tokens;
    HostContext& _context;
    mutable std::shared_mutex _mutex;
    std::unordered_map<std::string, SessionPtr> _byHash;
    std::unordered_map<std::string, SessionPtr> _byId;
    std::unordered_map<std::int64_t, std::vector<SessionPtr>> _byUser;  ///< oldest first
    std::size_t _sweepCursor = 0;  ///< where the next Lua pass starts (sweep thread only)
    Counter* _revoked = nullptr;
    Counter* _hookFailures = nullptr;
};

}  // namespace switchboard::auth
