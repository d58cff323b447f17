// Cookie sessions (see SessionManager.h).
#include "SessionManager.h"

#include <Poco/Logger.h>

#include <algorithm>

#include "AuthEvents.h"
#include "Secrets.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {

/// Last-use times reach the store at most this often per session.
constexpr std::int64_t kStoreEveryMs = 1000;
/// A sweep stops asking Lua after this many failed session_valid calls in a row, so a hook
/// that loops cannot hold the host's timer thread for (sessions x budget).
constexpr int kMaxConsecutiveHookFailures = 3;

rapidjson::Document sessionTable(const SessionInfo& s) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("id", rapidjson::Value(s.id.c_str(), a), a);
    d.AddMember("user_id", s.userId, a);
    d.AddMember("username", rapidjson::Value(s.login.c_str(), a), a);
    d.AddMember("created_at", static_cast<double>(s.createdAt) / 1000.0, a);
    d.AddMember("last_used", static_cast<double>(s.lastUsed) / 1000.0, a);
    d.AddMember("peer", rapidjson::Value(s.peer.c_str(), a), a);
    return d;
}

}  // namespace

SessionInfo SessionManager::Session::info() const {
    SessionInfo i;
    i.id = id;
    i.userId = userId;
    i.login = login;
    i.createdAt = createdAt;
    i.lastUsed = lastUsed.load(std::memory_order_relaxed);
    i.peer = peer;
    std::lock_guard<std::mutex> lock(linkMutex);
    i.jti = jti;
    i.jtiExpires = jtiExpires;
    return i;
}

SessionManager::SessionManager(std::shared_ptr<const AuthConfig> config, AuthStore& store,
                               TokenService& tokens, HostContext& context)
    : _config(std::move(config)), _store(store), _tokens(tokens), _context(context) {
    _revoked = &context.metrics().counter("sessions_ended_total", "Sessions ended, any reason");
    _hookFailures = &context.metrics().counter("session_valid_failures_total",
                                               "session_valid calls that failed (session kept)");
}

void SessionManager::load() {
    std::int64_t now = epochMillis();
    std::size_t dropped = 0;
    for (auto& row : _store.sessions()) {
        auto s = std::make_shared<Session>();
        s->id = row.id;
        s->tokenHash = row.tokenHash;
        s->userId = row.userId;
        s->login = row.login;
        s->createdAt = row.createdAt;
        s->peer = row.peer;
        s->lastUsed = row.lastUsed;
        s->lastStored = row.lastUsed;
        s->jti = row.jti;
        s->jtiExpires = row.jtiExpires;
        if (!expiryReason(*s, now).empty()) {
            _store.deleteSession(s->id);
            ++dropped;
            continue;
        }
        add(s);
    }
    if (dropped > 0) {
        _context.logger().information("%z session(s) expired while the server was down", dropped);
    }
}

void SessionManager::add(const SessionPtr& s) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    _byHash[s->tokenHash] = s;
    _byId[s->id] = s;
    _byUser[s->userId].push_back(s);
}

SessionManager::Login SessionManager::create(std::int64_t userId, const std::string& login,
                                             const std::string& peer) {
    auto s = std::make_shared<Session>();
    Login result;
    result.cookie = randomHex(32);
    s->id = randomHex(16);
    s->tokenHash = digestHex(result.cookie);
    s->userId = userId;
    s->login = login;
    s->createdAt = epochMillis();
    s->peer = peer;
    s->lastUsed = s->createdAt;
    s->lastStored = s->createdAt;
    result.jwt = _tokens.issue(userId, s->id);
    s->jti = result.jwt.jti;
    s->jtiExpires = result.jwt.expires;
    SessionRow row{s->id,        s->tokenHash, userId,        login, s->createdAt,
                   s->createdAt, s->jti,       s->jtiExpires, peer};
    _store.insertSession(row);
    add(s);
    result.session = s->info();

    std::vector<SessionPtr> excess;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        auto it = _byUser.find(userId);
        if (it != _byUser.end() && it->second.size() > _config->maxSessionsPerUser) {
            excess.assign(it->second.begin(), it->second.end() - static_cast<std::ptrdiff_t>(
                                                                     _config->maxSessionsPerUser));
        }
    }
    for (const auto& old : excess) {
        revoke(old->id, "too_many_sessions");
    }
    return result;
}

std::string SessionManager::expiryReason(const Session& s, std::int64_t now) const {
    if (_config->lifetime.count() > 0 && now - s.createdAt > _config->lifetime.count()) {
        return "lifetime";
    }
    if (_config->idleTimeout.count() > 0 &&
        now - s.lastUsed.load(std::memory_order_relaxed) > _config->idleTimeout.count()) {
        return "idle_timeout";
    }
    return {};
}

std::optional<SessionInfo> SessionManager::use(const std::string& cookie) {
    if (cookie.empty() || cookie.size() > 256) {
        return std::nullopt;
    }
    SessionPtr s;
    {
        std::string hash = digestHex(cookie);
        std::shared_lock<std::shared_mutex> lock(_mutex);
        auto it = _byHash.find(hash);
        if (it != _byHash.end()) {
            s = it->second;
        }
        lock.unlock();
        if (!s) {
            try {
                s = adopt(hash);  // a login on another node sharing the store
            } catch (const std::exception& e) {
                _context.logger().warning("cannot look a session up in the store: %s",
                                          std::string(e.what()));
            }
            if (!s) {
                return std::nullopt;
            }
        }
    }
    std::int64_t now = epochMillis();
    if (std::string reason = currentExpiry(*s, now); !reason.empty()) {
        revoke(s->id, reason);
        return std::nullopt;
    }
    if (askLua(*s) == Verdict::End) {
        revoke(s->id, "session_valid");
        return std::nullopt;
    }
    s->lastUsed.store(now, std::memory_order_relaxed);
    std::int64_t stored = s->lastStored.load(std::memory_order_relaxed);
    if (now - stored >= kStoreEveryMs &&
        s->lastStored.compare_exchange_strong(stored, now, std::memory_order_relaxed)) {
        _store.touchSession(s->id, now);
    }
    return s->info();
}

std::optional<SessionInfo> SessionManager::find(const std::string& id) const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    auto it = _byId.find(id);
    if (it == _byId.end()) {
        return std::nullopt;
    }
    return it->second->info();
}

SessionManager::Verdict SessionManager::askLua(const Session& s) {
    Lua& lua = _context.lua();
    if (!lua.hasHook("session_valid")) {
        return Verdict::Keep;
    }
    rapidjson::Document table = sessionTable(s.info());
    LuaResult result = lua.call("session_valid", {&table});
    if (!result.ok) {
        // The engine has logged the reason. A broken rule must not log everybody out.
        _hookFailures->inc();
        _context.logger().warning("session_valid failed for session %s; keeping it", s.id);
        return Verdict::Failed;
    }
    const auto& v = result.values;
    return v.Size() > 0 && v[0].IsBool() && !v[0].GetBool() ? Verdict::End : Verdict::Keep;
}

SessionManager::SessionPtr SessionManager::adopt(const std::string& tokenHash) {
    std::optional<SessionRow> row = _store.sessionByHash(tokenHash);
    if (!row) {
        return nullptr;
    }
    auto s = std::make_shared<Session>();
    s->id = row->id;
    s->tokenHash = row->tokenHash;
    s->userId = row->userId;
    s->login = row->login;
    s->createdAt = row->createdAt;
    s->peer = row->peer;
    s->lastUsed = row->lastUsed;
    s->lastStored = row->lastUsed;
    s->jti = row->jti;
    s->jtiExpires = row->jtiExpires;
    std::unique_lock<std::shared_mutex> lock(_mutex);
    auto it = _byHash.find(tokenHash);
    if (it != _byHash.end()) {
        return it->second;  // another request adopted it meanwhile
    }
    _byHash[s->tokenHash] = s;
    _byId[s->id] = s;
    _byUser[s->userId].push_back(s);
    return s;
}

std::string SessionManager::currentExpiry(Session& s, std::int64_t now) {
    std::string reason = expiryReason(s, now);
    if (reason != "idle_timeout") {
        return reason;
    }
    // Used on another node meanwhile? Its last use reached the store (write-behind).
    std::optional<std::int64_t> stored;
    try {
        stored = _store.sessionLastUsed(s.id);
    } catch (const std::exception&) {
        return reason;
    }
    if (!stored) {
        return reason;
    }
    std::int64_t mine = s.lastUsed.load(std::memory_order_relaxed);
    if (*stored > mine) {
        s.lastUsed.compare_exchange_strong(mine, *stored, std::memory_order_relaxed);
    }
    return expiryReason(s, now);
}

void SessionManager::forget(const std::string& id) {
    if (detach(id)) {
        _context.logger().debug("session %s ended on another node", id);
    }
}

void SessionManager::resync() {
    std::vector<SessionPtr> all;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        for (const auto& [id, s] : _byId) {
            all.push_back(s);
        }
    }
    std::size_t gone = 0;
    for (const auto& s : all) {
        if (!_store.sessionLastUsed(s->id)) {
            detach(s->id);
            ++gone;
        }
    }
    if (gone > 0) {
        _context.logger().information("%z session(s) ended on other nodes while the bus was away",
                                      gone);
    }
}

SessionManager::SessionPtr SessionManager::detach(const std::string& id) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    auto it = _byId.find(id);
    if (it == _byId.end()) {
        return nullptr;
    }
    SessionPtr s = it->second;
    _byId.erase(it);
    _byHash.erase(s->tokenHash);
    auto user = _byUser.find(s->userId);
    if (user != _byUser.end()) {
        auto& list = user->second;
        list.erase(std::remove(list.begin(), list.end(), s), list.end());
        if (list.empty()) {
            _byUser.erase(user);
        }
    }
    return s;
}

void SessionManager::finish(const SessionPtr& s, const std::string& reason) {
    SessionInfo info = s->info();
    try {
        _store.deleteSession(s->id);
        // Idle and lifetime ends only close the cookie session; the JWT keeps its own exp.
        if (reason != "idle_timeout" && reason != "lifetime") {
            _tokens.revoke(info.jti, info.jtiExpires);
        }
    } catch (const std::exception& e) {
        _context.logger().error("cannot store the end of session %s: %s", s->id,
                                std::string(e.what()));
    }
    _revoked->inc();
    _context.bus().publish("session.revoked",
                           AuthEvents::sessionRevoked(info.id, info.userId, info.login, reason));
    _context.logger().information("session %s of %s ended (%s)", info.id, info.login, reason);
}

bool SessionManager::revoke(const std::string& id, const std::string& reason) {
    SessionPtr s = detach(id);
    if (!s) {
        // A session only another node has in memory (shared store): end it from the store;
        // the session.revoked event tells that node.
        std::optional<SessionRow> row;
        try {
            row = _store.sessionById(id);
        } catch (const std::exception&) {
        }
        if (!row) {
            return false;
        }
        s = std::make_shared<Session>();
        s->id = row->id;
        s->tokenHash = row->tokenHash;
        s->userId = row->userId;
        s->login = row->login;
        s->createdAt = row->createdAt;
        s->peer = row->peer;
        s->lastUsed = row->lastUsed;
        s->jti = row->jti;
        s->jtiExpires = row->jtiExpires;
    }
    finish(s, reason);
    return true;
}

std::size_t SessionManager::revokeUser(std::int64_t userId, const std::string& reason,
                                       const std::string& keepId, bool broadcast) {
    if (broadcast) {
        _context.bus().publish("auth.sessions.user_revoked",
                               "{\"user_id\":" + std::to_string(userId) +
                                   ",\"keep\":" + json::quote(keepId) +
                                   ",\"reason\":" + json::quote(reason) + "}");
    }
    std::vector<SessionPtr> sessions;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        auto it = _byUser.find(userId);
        if (it != _byUser.end()) {
            sessions = it->second;
        }
    }
    std::size_t ended = 0;
    for (const auto& s : sessions) {
        if (s->id != keepId && revoke(s->id, reason)) {
            ++ended;
        }
    }
    return ended;
}

TokenService::Issued SessionManager::reissue(const std::string& id) {
    SessionPtr s;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        auto it = _byId.find(id);
        if (it != _byId.end()) {
            s = it->second;
        }
    }
    if (!s) {
        return {};
    }
    TokenService::Issued issued = _tokens.issue(s->userId, s->id);
    std::string oldJti;
    std::int64_t oldExpires = 0;
    {
        std::lock_guard<std::mutex> lock(s->linkMutex);
        oldJti = s->jti;
        oldExpires = s->jtiExpires;
        s->jti = issued.jti;
        s->jtiExpires = issued.expires;
    }
    _store.relinkSession(s->id, issued.jti, issued.expires);
    _tokens.revoke(oldJti, oldExpires);
    return issued;
}

std::vector<SessionInfo> SessionManager::list(std::optional<std::int64_t> userId) const {
    std::vector<SessionInfo> out;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        for (const auto& [id, s] : _byId) {
            if (!userId || s->userId == *userId) {
                out.push_back(s->info());
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) {
        return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.id < b.id;
    });
    return out;
}

std::size_t SessionManager::count() const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    return _byId.size();
}

void SessionManager::sweep() {
    std::vector<SessionPtr> all;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        all.reserve(_byId.size());
        for (const auto& [id, s] : _byId) {
            all.push_back(s);
        }
    }
    std::int64_t now = epochMillis();
    std::vector<SessionPtr> live;
    for (const auto& s : all) {
        if (std::string reason = currentExpiry(*s, now); !reason.empty()) {
            revoke(s->id, reason);
        } else {
            live.push_back(s);
        }
    }
    if (live.empty() || !_context.lua().hasHook("session_valid")) {
        return;
    }
    // A stable order, started where the last round stopped: when a failing rule cuts rounds
    // short, every session still gets its turn.
    std::sort(live.begin(), live.end(),
              [](const SessionPtr& a, const SessionPtr& b) { return a->id < b->id; });
    std::size_t start = _sweepCursor % live.size();
    int failuresInARow = 0;
    for (std::size_t n = 0; n < live.size(); ++n) {
        const SessionPtr& s = live[(start + n) % live.size()];
        Verdict verdict = askLua(*s);
        if (verdict == Verdict::End) {
            revoke(s->id, "session_valid");
        }
        failuresInARow = verdict == Verdict::Failed ? failuresInARow + 1 : 0;
        if (failuresInARow >= kMaxConsecutiveHookFailures && n + 1 < live.size()) {
            _sweepCursor = start + n + 1;
            _context.logger().warning(
                "session_valid failed %d times in a row; %z session(s) not checked this round",
                failuresInARow, live.size() - n - 1);
            return;
        }
    }
    _sweepCursor = start;
}

}  // namespace switchboard::auth
