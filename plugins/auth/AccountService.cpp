// The Accounts service (see AccountService.h).
#include "AccountService.h"

#include <Poco/Logger.h>

#include <map>

#include "AccountRules.h"
#include "AuthEvents.h"
#include "Secrets.h"
#include "switchboard/Audit.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {

const char* const kReadOnly = "account is managed in the configuration (auth.credentials)";
const char* const kNotFound = "Account not found";
const char* const kBadResetToken = "Invalid or expired reset token.";

}  // namespace

AccountService::AccountService(std::shared_ptr<const AuthConfig> config, AuthStore& store,
                               PasswordHasher& hasher, TokenService& tokens,
                               SessionManager& sessions, Mailer& mailer, HostContext& context)
    : _config(std::move(config)),
      _store(store),
      _hasher(hasher),
      _tokens(tokens),
      _sessions(sessions),
      _mailer(mailer),
      _context(context),
      _addressFailures(_config->failuresPerAddress, 0, _config->rateWindow),
      _accountFailures(_config->failuresPerAccount, 0, _config->rateWindow),
      _resetMails(_config->resetMailsPerAccount, 0, _config->resetWindow) {
    Metrics& m = context.metrics();
    _loginsOk = &m.counter("password_checks_total", "Password checks", "result=\"ok\"");
    _loginsFailed = &m.counter("password_checks_total", "Password checks", "result=\"invalid\"");
    _loginsLimited =
        &m.counter("password_checks_total", "Password checks", "result=\"rate_limited\"");
}

template <class Fn>
auto AccountService::guarded(const char* what, Fn fn) -> decltype(fn()) {
    requireRunning();
    try {
        return fn();
    } catch (const StoreError& e) {
        _context.logger().error("%s: %s", std::string(what), std::string(e.what()));
        throw AccountError(AccountError::Code::Unavailable, "account store unavailable");
    }
}

void AccountService::requireRunning() const {
    if (!_running.load()) {
        throw AccountError(AccountError::Code::Unavailable, "auth is not running");
    }
}

Identity AccountService::identityOf(const UserRow& row) {
    return Identity{row.id, row.username, row.email};
}

std::string AccountService::accountKey(std::int64_t id) {
    return "id:" + std::to_string(id);
}

void AccountService::noteLimits(const std::string& loginKey, const std::string& address) {
    // The failure was counted before the hash: a wait now means it started the refusal, and
    // later attempts are refused before they count, so each refusal is recorded once.
    if (std::int64_t wait = _addressFailures.retryAfter(address)) {
        recordAudit(_context, "anonymous", address, "auth.login_limited",
                    "{\"by\":\"address\",\"retry_after\":" + std::to_string(wait) + "}");
    }
    if (std::int64_t wait = _accountFailures.retryAfter(loginKey)) {
        recordAudit(_context, "anonymous", address, "auth.login_limited",
                    "{\"by\":\"account\",\"account\":" + json::quote(loginKey) +
                        ",\"retry_after\":" + std::to_string(wait) + "}");
    }
}

AuthResult AccountService::check(const std::optional<UserRow>& user, const std::string& loginKey,
                                 const std::string& password, const std::string& address) {
    AuthResult result;
    // Counted before the hash, in one step with the check: concurrent guesses cannot all pass.
    std::int64_t wait = _addressFailures.attempt(address);
    if (wait == 0) {
        wait = _accountFailures.attempt(loginKey);
        if (wait > 0) {
            _addressFailures.forgive(address);
        }
    }
    if (wait > 0) {
        _loginsLimited->inc();
        result.status = AuthResult::Status::RateLimited;
        result.retryAfter = wait;
        return result;
    }
    bool ok = false;
    if (user) {
        ok = _hasher.verify(user->passwordHash, password);
    } else {
        _hasher.verifyDummy(password);  // unknown logins cost what wrong passwords cost
    }
    if (!ok) {
        _loginsFailed->inc();  // the attempt stays counted
        noteLimits(loginKey, address);
        return result;
    }
    _addressFailures.forgive(address);
    _accountFailures.forgive(loginKey);
    _loginsOk->inc();
    if (user->source == AuthStore::kRegistered && _hasher.needsRehash(user->passwordHash)) {
        try {
            _store.setPassword(user->id, _hasher.hash(password), 0);  // new parameters
        } catch (const std::exception& e) {
            _context.logger().warning("cannot upgrade the password hash of account %?d: %s",
                                      user->id, std::string(e.what()));
        }
    }
    result.status = AuthResult::Status::Ok;
    result.identity = identityOf(*user);
    return result;
}

AuthResult AccountService::authenticate(const std::string& login, const std::string& password,
                                        const std::string& clientAddress) {
    std::optional<UserRow> user;
    if (!login.empty() && login.size() <= 254 && login.find('\0') == std::string::npos) {
        user = guarded("login", [&] { return _store.userByLogin(login); });
    }
    requireRunning();
    // Keyed by account, so its username and its email share one budget; unknown logins by the
    // name typed (names longer than any account's are one bucket: the keys stay small).
    return check(user,
                 user                  ? accountKey(user->id)
                 : login.size() <= 254 ? "login:" + foldCase(login)
                                       : std::string("login:\x01long"),
                 password, clientAddress);
}

AuthResult AccountService::checkPassword(std::int64_t id, const std::string& password,
                                         const std::string& clientAddress) {
    std::optional<UserRow> user = guarded("password check", [&] { return _store.userById(id); });
    return check(user, accountKey(id), password, clientAddress);
}

std::optional<AccountService::Bearer> AccountService::bearer(const std::string& token,
                                                             std::string& reason) {
    requireRunning();
    std::optional<TokenService::Claims> claims = _tokens.verify(token, reason);
    if (!claims) {
        return std::nullopt;
    }
    std::optional<UserRow> user =
        guarded("bearer check", [&] { return _store.userById(claims->userId); });
    if (!user) {
        reason = "account no longer exists";
        return std::nullopt;
    }
    if (claims->issuedAtMs < user->tokensAfter) {
        reason = "token issued before the last password change";
        return std::nullopt;
    }
    return Bearer{identityOf(*user), *claims};
}

std::optional<Identity> AccountService::verifyBearer(const std::string& token) {
    std::string reason;
    std::optional<Bearer> b = bearer(token, reason);
    if (!b) {
        return std::nullopt;
    }
    return b->identity;
}

Identity AccountService::create(const std::string& username, const std::string& email,
                                const std::string& password) {
    requireRunning();
    std::string problem = username.empty() ? std::string() : usernameProblem(username);
    if (problem.empty()) {
        problem = emailProblem(email);
    }
    if (problem.empty()) {
        problem = passwordProblem(password, _config->passwordMinLength);
    }
    if (!problem.empty()) {
        throw AccountError(AccountError::Code::InvalidInput, problem);
    }
    std::string hash = _hasher.hash(password);
    std::string conflict;
    std::optional<UserRow> row = guarded("register", [&] {
        return _store.insertUser(username, email, hash, AuthStore::kRegistered, epochMillis(),
                                 conflict);
    });
    if (!row) {
        throw AccountError(AccountError::Code::Duplicate, conflict == "username"
                                                              ? "Username already taken"
                                                              : "Email already registered");
    }
    _context.bus().publish("user.created",
                           AuthEvents::userCreated(row->id, row->username, row->email));
    _context.logger().information("account %?d registered (%s)", row->id,
                                  row->username.empty() ? row->email : row->username);
    return identityOf(*row);
}

UserRow AccountService::requireWritable(std::int64_t id) {
    std::optional<UserRow> user = guarded("account look-up", [&] { return _store.userById(id); });
    if (!user) {
        throw AccountError(AccountError::Code::NotFound, kNotFound);
    }
    if (user->source != AuthStore::kRegistered) {
        throw AccountError(AccountError::Code::ReadOnly, kReadOnly);
    }
    return *user;
}

void AccountService::setPassword(const UserRow& user, const std::string& newPassword,
                                 const std::string& keepSessionId, const std::string& reason) {
    std::string hash = _hasher.hash(newPassword);
    guarded("password change", [&] { _store.setPassword(user.id, hash, epochMillis()); });
    _sessions.revokeUser(user.id, reason, keepSessionId);
    _context.logger().information("password of account %?d changed (%s)", user.id, reason);
}

void AccountService::changePassword(std::int64_t id, const std::string& newPassword,
                                    const std::string& keepSessionId) {
    std::string problem = passwordProblem(newPassword, _config->passwordMinLength);
    if (!problem.empty()) {
        throw AccountError(AccountError::Code::InvalidInput, problem);
    }
    setPassword(requireWritable(id), newPassword, keepSessionId, "password_changed");
}

void AccountService::changePassword(std::int64_t id, const std::string& newPassword) {
    changePassword(id, newPassword, "");
}

void AccountService::changeEmail(std::int64_t id, const std::string& email) {
    std::string problem = emailProblem(email);
    if (!problem.empty()) {
        throw AccountError(AccountError::Code::InvalidInput, problem);
    }
    requireWritable(id);
    if (!guarded("email change", [&] { return _store.setEmail(id, email); })) {
        throw AccountError(AccountError::Code::Duplicate, "Email already registered");
    }
    _context.logger().information("email of account %?d changed", id);
}

void AccountService::remove(std::int64_t id) {
    removeAs(id, "user:" + std::to_string(id), "");
}

void AccountService::removeAs(std::int64_t id, const std::string& actor,
                              const std::string& address) {
    UserRow user = requireWritable(id);
    _sessions.revokeUser(id, "account_deleted");
    if (!guarded("account deletion", [&] { return _store.deleteUser(id); })) {
        throw AccountError(AccountError::Code::NotFound, kNotFound);
    }
    _context.bus().publish("user.deleted",
                           AuthEvents::userDeleted(user.id, user.username, user.email));
    _context.logger().information("account %?d deleted", id);
    recordAudit(
        _context, actor, address, "user.deleted",
        "{\"user_id\":" + std::to_string(id) + ",\"username\":" + json::quote(user.username) + "}");
}

std::optional<Identity> AccountService::find(const std::string& login) {
    if (login.empty() || login.find('\0') != std::string::npos) {
        return std::nullopt;
    }
    auto row = guarded("account look-up", [&] { return _store.userByLogin(login); });
    return row ? std::optional<Identity>(identityOf(*row)) : std::nullopt;
}

std::optional<Identity> AccountService::findById(std::int64_t id) {
    auto row = guarded("account look-up", [&] { return _store.userById(id); });
    return row ? std::optional<Identity>(identityOf(*row)) : std::nullopt;
}

std::vector<Identity> AccountService::list(std::size_t limit, std::size_t offset) {
    std::vector<Identity> out;
    std::int64_t total = 0;
    for (const auto& row : rows("%", limit, offset, total)) {
        out.push_back(identityOf(row));
    }
    return out;
}

std::vector<UserRow> AccountService::rows(const std::string& like, std::size_t limit,
                                          std::size_t offset, std::int64_t& total) {
    return guarded("account list", [&] { return _store.users(like, limit, offset, total); });
}

void AccountService::requestPasswordReset(const std::string& login) {
    std::optional<Identity> user = find(login);
    if (!user || user->email.empty()) {
        _context.logger().information(
            "password reset requested for unknown login or an "
            "account without email; no mail sent");
        return;
    }
    std::string key = std::to_string(user->id);
    if (_resetMails.retryAfter(key) > 0) {
        _context.logger().warning(
            "password reset for account %?d: mail limit reached, "
            "request ignored",
            user->id);
        return;
    }
    _resetMails.fail(key);  // counts mails, not failures
    std::string token = randomHex(32);
    std::int64_t ttlS = _config->resetTtl.count() / 1000;
    guarded("password reset", [&] {
        _store.saveResetToken(digestHex(token), user->id,
                              epochMillis() / 1000 + std::max<std::int64_t>(1, ttlS));
    });
    std::string body = "A password reset was requested for your account " + user->login() +
                       ".\n\nReset token:\n" + token + "\n\n";
    if (!_config->resetUrl.empty()) {
        std::string url = _config->resetUrl;
        std::size_t at = url.find("{token}");
        if (at != std::string::npos) {
            url.replace(at, 7, token);
        }
        body += "Choose a new password here:\n" + url + "\n\n";
    }
    std::int64_t minutes = std::max<std::int64_t>(1, ttlS / 60);
    body += "The token works once and expires in " + std::to_string(minutes) +
            " minute(s). If you did not ask for this, ignore this mail.\n";
    _mailer.enqueue(Mail{user->email, _config->resetSubject, body});
}

void AccountService::resetPassword(const std::string& token, const std::string& password) {
    requireRunning();
    std::string problem = passwordProblem(password, _config->passwordMinLength);
    if (!problem.empty()) {
        throw AccountError(AccountError::Code::InvalidInput, problem);
    }
    if (token.empty() || token.size() > 256) {
        throw AccountError(AccountError::Code::InvalidInput, kBadResetToken);
    }
    std::optional<std::int64_t> id = guarded("password reset", [&] {
        return _store.takeResetToken(digestHex(token), epochMillis() / 1000);
    });
    if (!id) {
        throw AccountError(AccountError::Code::InvalidInput, kBadResetToken);
    }
    std::optional<UserRow> user = guarded("password reset", [&] { return _store.userById(*id); });
    if (!user) {
        throw AccountError(AccountError::Code::InvalidInput, kBadResetToken);
    }
    setPassword(*user, password, "", "password_reset");
}

void AccountService::syncCredentials() {
    std::map<std::string, UserRow> existing;
    for (auto& row : _store.usersFrom(AuthStore::kConfig)) {
        existing.emplace(foldCase(row.username), row);
    }
    for (const auto& [username, secret] : _config->credentials) {
        bool plain = !PasswordHasher::isEncodedHash(secret);
        if (plain) {
            _context.logger().warning(
                "plugins.auth.credentials.%s: plain-text password; put an Argon2id hash "
                "(\"$argon2id$...\") in the config instead",
                username);
        }
        auto it = existing.find(foldCase(username));
        if (it != existing.end()) {
            UserRow& row = it->second;
            bool same =
                plain ? _hasher.verify(row.passwordHash, secret) : row.passwordHash == secret;
            if (!same) {
                _store.setPassword(row.id, plain ? _hasher.hash(secret) : secret, epochMillis());
                _sessions.revokeUser(row.id, "password_changed");
            }
            existing.erase(it);
            continue;
        }
        std::string conflict;
        std::optional<UserRow> row =
            _store.insertUser(username, "", plain ? _hasher.hash(secret) : secret,
                              AuthStore::kConfig, epochMillis(), conflict);
        if (!row) {
            throw std::runtime_error("plugins.auth.credentials." + username +
                                     ": the username belongs to a registered account");
        }
    }
    for (const auto& [key, row] : existing) {  // no longer in the config
        _sessions.revokeUser(row.id, "account_deleted");
        _store.deleteUser(row.id);
        _context.bus().publish("user.deleted", AuthEvents::userDeleted(row.id, row.username, ""));
        _context.logger().information("static account %s removed from the config: deleted",
                                      row.username);
    }
}

}  // namespace switchboard::auth
