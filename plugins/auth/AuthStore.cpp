// Auth tables and queries (see AuthStore.h).
#include "AuthStore.h"

#include "AccountRules.h"

namespace switchboard::auth {

namespace {

constexpr const char* kUserColumns =
    "id, username, email, password_hash, source, created_at, tokens_after";

SqlValue textOrNull(const std::string& text) {
    return text.empty() ? SqlValue(nullptr) : SqlValue(text);
}

}  // namespace

AuthStore::AuthStore(Store& store) : _store(store) {
    _store.migrate(
        "auth",
        {{1,
          {"CREATE TABLE auth_users ("
           " id BIGINT PRIMARY KEY,"
           " username TEXT,"
           " username_key TEXT UNIQUE,"
           " email TEXT,"
           " email_key TEXT UNIQUE,"
           " password_hash TEXT NOT NULL,"
           " source TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " tokens_after BIGINT NOT NULL)",
           "CREATE TABLE auth_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
           "INSERT INTO auth_counters (name, value) VALUES ('user_id', 0)",
           "CREATE TABLE auth_sessions ("
           " id TEXT PRIMARY KEY,"
           " token_hash TEXT NOT NULL UNIQUE,"
           " user_id BIGINT NOT NULL,"
           " login TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " last_used BIGINT NOT NULL,"
           " jti TEXT NOT NULL,"
           " jti_expires BIGINT NOT NULL,"
           " peer TEXT NOT NULL)",
           "CREATE INDEX auth_sessions_user ON auth_sessions (user_id)",
           "CREATE TABLE auth_revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
           "CREATE TABLE auth_reset_tokens ("
           " token_hash TEXT PRIMARY KEY,"
           " user_id BIGINT NOT NULL,"
           " expires_at BIGINT NOT NULL)"}},
         // tokens_after in ms (it was s: a JWT issued in the second of a password change, before
         // it, stayed valid; JWTs now carry iat_ms).
         {2, {"UPDATE auth_users SET tokens_after = tokens_after * 1000"}}});
    _lastUsed = _store.writeBehind("auth.session_last_used",
                                   // Never backwards: several nodes may write one session's
                                   // last use.
                                   "UPDATE auth_sessions SET last_used = $1 WHERE id = $2"
                                   " AND last_used < $1");
}

SessionRow AuthStore::toSession(const SqlRow& row) {
    SessionRow s;
    s.id = row.getString(0);
    s.tokenHash = row.getString(1);
    s.userId = row.getInt(2);
    s.login = row.getString(3);
    s.createdAt = row.getInt(4);
    s.lastUsed = row.getInt(5);
    s.jti = row.getString(6);
    s.jtiExpires = row.getInt(7);
    s.peer = row.getString(8);
    return s;
}

UserRow AuthStore::toUser(const SqlRow& row) {
    UserRow u;
    u.id = row.getInt(0);
    u.username = row.getString(1);
    u.email = row.getString(2);
    u.passwordHash = row.getString(3);
    u.source = row.getString(4);
    u.createdAt = row.getInt(5);
    u.tokensAfter = row.getInt(6);
    return u;
}

std::optional<UserRow> AuthStore::userByLogin(const std::string& login) {
    std::string column = login.find('@') != std::string::npos ? "email_key" : "username_key";
    auto rows = _store.query(
        std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE " + column + " = $1",
        {foldCase(login)});
    if (rows.empty()) {
        return std::nullopt;
    }
    return toUser(rows.front());
}

std::optional<UserRow> AuthStore::userById(std::int64_t id) {
    auto rows = _store.query(
        std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE id = $1", {id});
    if (rows.empty()) {
        return std::nullopt;
    }
    return toUser(rows.front());
}

std::vector<UserRow> AuthStore::users(const std::string& like, std::size_t limit,
                                      std::size_t offset, std::int64_t& total) {
    // The keys are the lower-case username and email; either may be NULL.
    std::string where =
        " WHERE COALESCE(username_key, '') LIKE $1 ESCAPE '\\'"
        " OR COALESCE(email_key, '') LIKE $1 ESCAPE '\\'";
    total = _store.query("SELECT COUNT(*) FROM auth_users" + where, {like}).at(0).getInt(0);
    std::vector<UserRow> out;
    for (const auto& row : _store.query(
             std::string("SELECT ") + kUserColumns + " FROM auth_users" + where +
                 " ORDER BY id LIMIT $2 OFFSET $3",
             {like, static_cast<std::int64_t>(limit), static_cast<std::int64_t>(offset)})) {
        out.push_back(toUser(row));
    }
    return out;
}

std::vector<UserRow> AuthStore::usersFrom(const std::string& source) {
    std::vector<UserRow> out;
    for (const auto& row : _store.query(std::string("SELECT ") + kUserColumns +
                                            " FROM auth_users WHERE source = $1 ORDER BY id",
                                        {source})) {
        out.push_back(toUser(row));
    }
    return out;
}

std::int64_t AuthStore::userCount() {
    auto rows = _store.query("SELECT COUNT(*) FROM auth_users");
    return rows.empty() ? 0 : rows.front().getInt(0);
}

std::optional<UserRow> AuthStore::insertUser(const std::string& username, const std::string& email,
                                             const std::string& hash, const std::string& source,
                                             std::int64_t nowMs, std::string& conflict) {
    std::optional<UserRow> inserted;
    std::string usernameKey = foldCase(username);
    std::string emailKey = foldCase(email);
    struct Taken {};
    try {
        _store.transaction([&](StoreTx& tx) {
            // The counter first: its row lock orders registrations across nodes sharing a
            // PostgreSQL store, so the checks below see every earlier registration (a
            // concurrent one on another node would otherwise pass them and then fail the
            // UNIQUE constraint). A conflict rolls the increment back.
            tx.execute("UPDATE auth_counters SET value = value + 1 WHERE name = 'user_id'");
            if (!username.empty() &&
                !tx.query("SELECT id FROM auth_users WHERE username_key = $1", {usernameKey})
                     .empty()) {
                conflict = "username";
                throw Taken{};
            }
            if (!email.empty() &&
                !tx.query("SELECT id FROM auth_users WHERE email_key = $1", {emailKey}).empty()) {
                conflict = "email";
                throw Taken{};
            }
            auto rows = tx.query("SELECT value FROM auth_counters WHERE name = 'user_id'");
            UserRow u;
            u.id = rows.at(0).getInt(0);
            u.username = username;
            u.email = email;
            u.passwordHash = hash;
            u.source = source;
            u.createdAt = nowMs;
            u.tokensAfter = nowMs;
            tx.execute(
                "INSERT INTO auth_users (id, username, username_key, email, email_key,"
                " password_hash, source, created_at, tokens_after)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                {u.id, textOrNull(username), textOrNull(usernameKey), textOrNull(email),
                 textOrNull(emailKey), hash, source, u.createdAt, u.tokensAfter});
            inserted = u;
        });
    } catch (const Taken&) {
        return std::nullopt;
    }
    return inserted;
}

void AuthStore::setPassword(std::int64_t id, const std::string& hash, std::int64_t tokensAfter) {
    if (tokensAfter > 0) {
        _store.execute("UPDATE auth_users SET password_hash = $1, tokens_after = $2 WHERE id = $3",
                       {hash, tokensAfter, id});
    } else {
        _store.execute("UPDATE auth_users SET password_hash = $1 WHERE id = $2", {hash, id});
    }
}

bool AuthStore::setEmail(std::int64_t id, const std::string& email) {
    bool ok = false;
    std::string key = foldCase(email);
    _store.transaction([&](StoreTx& tx) {
        if (!tx.query("SELECT id FROM auth_users WHERE email_key = $1 AND id <> $2", {key, id})
                 .empty()) {
            return;
        }
        tx.execute("UPDATE auth_users SET email = $1, email_key = $2 WHERE id = $3",
                   {email, key, id});
        ok = true;
    });
    return ok;
}

bool AuthStore::deleteUser(std::int64_t id) {
    bool deleted = false;
    _store.transaction([&](StoreTx& tx) {
        deleted = tx.execute("DELETE FROM auth_users WHERE id = $1", {id}) > 0;
        tx.execute("DELETE FROM auth_sessions WHERE user_id = $1", {id});
        tx.execute("DELETE FROM auth_reset_tokens WHERE user_id = $1", {id});
    });
    return deleted;
}

std::vector<SessionRow> AuthStore::sessions() {
    std::vector<SessionRow> out;
    for (const auto& row : _store.query(
             "SELECT id, token_hash, user_id, login, created_at, last_used, jti, jti_expires,"
             " peer FROM auth_sessions")) {
        out.push_back(toSession(row));
    }
    return out;
}

std::optional<SessionRow> AuthStore::sessionById(const std::string& id) {
    auto rows = _store.query("SELECT token_hash FROM auth_sessions WHERE id = $1", {id});
    if (rows.empty()) {
        return std::nullopt;
    }
    return sessionByHash(rows.front().getString(0));
}

std::optional<SessionRow> AuthStore::sessionByHash(const std::string& tokenHash) {
    auto rows = _store.query(
        "SELECT id, token_hash, user_id, login, created_at, last_used, jti, jti_expires, peer"
        " FROM auth_sessions WHERE token_hash = $1",
        {tokenHash});
    if (rows.empty()) {
        return std::nullopt;
    }
    return toSession(rows.front());
}

std::optional<std::int64_t> AuthStore::sessionLastUsed(const std::string& id) {
    auto rows = _store.query("SELECT last_used FROM auth_sessions WHERE id = $1", {id});
    if (rows.empty()) {
        return std::nullopt;
    }
    return rows.front().getInt(0);
}

void AuthStore::insertSession(const SessionRow& s) {
    _store.execute(
        "INSERT INTO auth_sessions (id, token_hash, user_id, login, created_at, last_used, jti,"
        " jti_expires, peer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {s.id, s.tokenHash, s.userId, s.login, s.createdAt, s.lastUsed, s.jti, s.jtiExpires,
         s.peer});
}

void AuthStore::deleteSession(const std::string& id) {
    _lastUsed->discard(id);
    _store.execute("DELETE FROM auth_sessions WHERE id = $1", {id});
}

void AuthStore::touchSession(const std::string& id, std::int64_t lastUsedMs) {
    _lastUsed->put(id, {lastUsedMs, id});
}

void AuthStore::relinkSession(const std::string& id, const std::string& jti,
                              std::int64_t jtiExpires) {
    _store.execute("UPDATE auth_sessions SET jti = $1, jti_expires = $2 WHERE id = $3",
                   {jti, jtiExpires, id});
}

std::vector<std::pair<std::string, std::int64_t>> AuthStore::revokedTokens(std::int64_t nowS) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& row : _store.query(
             "SELECT jti, expires_at FROM auth_revoked_tokens WHERE expires_at >= $1", {nowS})) {
        out.emplace_back(row.getString(0), row.getInt(1));
    }
    return out;
}

void AuthStore::revokeToken(const std::string& jti, std::int64_t expiresS) {
    _store.execute(
        "INSERT INTO auth_revoked_tokens (jti, expires_at) VALUES ($1, $2)"
        " ON CONFLICT (jti) DO NOTHING",
        {jti, expiresS});
}

void AuthStore::saveResetToken(const std::string& tokenHash, std::int64_t userId,
                               std::int64_t expiresS) {
    _store.transaction([&](StoreTx& tx) {
        tx.execute("DELETE FROM auth_reset_tokens WHERE user_id = $1", {userId});
        tx.execute(
            "INSERT INTO auth_reset_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            {tokenHash, userId, expiresS});
    });
}

std::optional<std::int64_t> AuthStore::takeResetToken(const std::string& tokenHash,
                                                      std::int64_t nowS) {
    std::optional<std::int64_t> userId;
    _store.transaction([&](StoreTx& tx) {
        auto rows = tx.query(
            "SELECT user_id, expires_at FROM auth_reset_tokens WHERE token_hash = $1", {tokenHash});
        if (rows.empty()) {
            return;
        }
        tx.execute("DELETE FROM auth_reset_tokens WHERE token_hash = $1", {tokenHash});
        if (rows.front().getInt(1) >= nowS) {
            userId = rows.front().getInt(0);
        }
    });
    return userId;
}

void AuthStore::purge(std::int64_t nowS) {
    _store.execute("DELETE FROM auth_revoked_tokens WHERE expires_at < $1", {nowS});
    _store.execute("DELETE FROM auth_reset_tokens WHERE expires_at < $1", {nowS});
}

}  // namespace switchboard::auth
