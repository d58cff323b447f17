// The auth plugin's tables: accounts, sessions, revoked token ids and password reset tokens.
// Everything a client is told succeeded is written before the reply; session last-use times go
// through the store's write-behind batcher. SQL is portable ($n, BIGINT, TEXT).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "switchboard/Store.h"

namespace switchboard::auth {

struct UserRow {
    std::int64_t id = 0;
    std::string username;  ///< "" when none
    std::string email;     ///< "" when none
    std::string passwordHash;
    std::string source;            ///< "registered" or "config" (auth.credentials)
    std::int64_t createdAt = 0;    ///< ms since the epoch
    std::int64_t tokensAfter = 0;  ///< ms since the epoch: JWTs issued earlier are invalid
};

struct SessionRow {
    std::string id;         ///< public id (admin API, events, the JWT's sid claim)
    std::string tokenHash;  ///< hex BLAKE2b of the cookie value (the value itself is not kept)
    std::int64_t userId = 0;
    std::string login;            ///< username, or email for accounts without one
    std::int64_t createdAt = 0;   ///< ms
    std::int64_t lastUsed = 0;    ///< ms
    std::string jti;              ///< the JWT issued with this login
    std::int64_t jtiExpires = 0;  ///< s: its exp
    std::string peer;             ///< client address at login
};

class AuthStore {
public:
    static constexpr const char* kRegistered = "registered";
    static constexpr const char* kConfig = "config";

    /// Applies the plugin's migrations. Throws StoreError.
    explicit AuthStore(Store& store);

    /// By username, or by email when `login` contains '@'; case-insensitive.
    std::optional<UserRow> userByLogin(const std::string& login);
    std::optional<UserRow> userById(std::int64_t id);
    /// Accounts by id whose username or email matches `like` (a LIKE pattern on the lower-case
    /// keys, '\\' escaping), at most `limit` from `offset`; `total` counts every match.
    std::vector<UserRow> users(const std::string& like, std::size_t limit, std::size_t offset,
                               std::int64_t& total);
    std::vector<UserRow> usersFrom(const std::string& source);
    std::int64_t userCount();
    /// Inserts an account with a fresh id (ids are never reused). Returns nullopt and sets
    /// `conflict` ("username" or "email") if either is taken.
    std::optional<UserRow> insertUser(const std::string& username, const std::string& email,
                                      const std::string& hash, const std::string& source,
                                      std::int64_t nowMs, std::string& conflict);
    /// Sets the hash; tokensAfter (ms) > 0 also invalidates earlier JWTs.
    void setPassword(std::int64_t id, const std::string& hash, std::int64_t tokensAfter);
    /// False if another account has that email.
    bool setEmail(std::int64_t id, const std::string& email);
    /// Deletes the account with its sessions and reset tokens. False if it did not exist.
    bool deleteUser(std::int64_t id);

    std::vector<SessionRow> sessions();
    /// One session by the hash of its cookie (another node's login, on a shared store).
    std::optional<SessionRow> sessionByHash(const std::string& tokenHash);
    std::optional<SessionRow> sessionById(const std::string& id);
    /// The stored last use (ms) of a session; nullopt if it is gone (ended on another node).
    std::optional<std::int64_t> sessionLastUsed(const std::string& id);
    void insertSession(const SessionRow& session);
    void deleteSession(const std::string& id);
    /// Queues a last-use time (written within store.flush_interval).
    void touchSession(const std::string& id, std::int64_t lastUsedMs);
    /// Points a session at a newly issued JWT.
    void relinkSession(const std::string& id, const std::string& jti, std::int64_t jtiExpires);

    /// Revoked JWT ids that have not expired yet, with their exp (s).
    std::vector<std::pair<std::string, std::int64_t>> revokedTokens(std::int64_t nowS);
    void revokeToken(const std::string& jti, std::int64_t expiresS);

    /// Stores a reset token hash, replacing the account's earlier ones.
    void saveResetToken(const std::string& tokenHash, std::int64_t userId, std::int64_t expiresS);
    /// Consumes a reset token: the account id if it existed and had not expired. One-time.
    std::optional<std::int64_t> takeResetToken(const std::string& tokenHash, std::int64_t nowS);

    /// Drops expired revocations and reset tokens.
    void purge(std::int64_t nowS);

private:
    static UserRow toUser(const SqlRow& row);
    /// A row of id, token_hash, user_id, login, created_at, last_used, jti, jti_expires, peer.
    static SessionRow toSession(const SqlRow& row);

    Store& _store;
    std::shared_ptr<WriteBehind> _lastUsed;
};

}  // namespace switchboard::auth
