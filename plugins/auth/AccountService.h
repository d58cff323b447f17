// The Accounts service (switchboard/Accounts.h): account rules, password checks with failure
// limits, bearer verification, password reset, and the static accounts of auth.credentials.
// One instance per running plugin, shared by the HTTP routes and (through the service registry)
// by other plugins; thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "AuthConfig.h"
#include "AuthStore.h"
#include "Mailer.h"
#include "PasswordHasher.h"
#include "SessionManager.h"
#include "TokenService.h"
#include "switchboard/Accounts.h"
#include "switchboard/HostContext.h"
#include "switchboard/RateLimiter.h"

namespace switchboard::auth {

class AccountService : public Accounts {
public:
    /// A verified bearer token and whose it is.
    struct Bearer {
        Identity identity;
        TokenService::Claims claims;
    };

    AccountService(std::shared_ptr<const AuthConfig> config, AuthStore& store,
                   PasswordHasher& hasher, TokenService& tokens, SessionManager& sessions,
                   Mailer& mailer, HostContext& context);

    AuthResult authenticate(const std::string& login, const std::string& password,
                            const std::string& clientAddress) override;
    std::optional<Identity> verifyBearer(const std::string& token) override;
    Identity create(const std::string& username, const std::string& email,
                    const std::string& password) override;
    void changePassword(std::int64_t id, const std::string& newPassword) override;
    void changeEmail(std::int64_t id, const std::string& email) override;
    void remove(std::int64_t id) override;
    /// remove() on behalf of `actor` ("admin", "user:<id>") from `address`, for the audit log.
    void removeAs(std::int64_t id, const std::string& actor, const std::string& address);
    std::optional<Identity> find(const std::string& login) override;
    std::optional<Identity> findById(std::int64_t id) override;
    std::vector<Identity> list(std::size_t limit, std::size_t offset) override;
    void requestPasswordReset(const std::string& login) override;

    /// verifyBearer with the claims; `reason` says why a token was refused.
    std::optional<Bearer> bearer(const std::string& token, std::string& reason);
    /// Checks the password of a known account (current_password of account changes), counted
    /// like logins. Blocks (hashing).
    AuthResult checkPassword(std::int64_t id, const std::string& password,
                             const std::string& clientAddress);
    /// changePassword that keeps one session (the caller's) alive.
    void changePassword(std::int64_t id, const std::string& newPassword,
                        const std::string& keepSessionId);
    /// Completes a reset: consumes the token, sets the password, ends every session. Throws
    /// AccountError(InvalidInput) "Invalid or expired reset token." or for a weak password.
    void resetPassword(const std::string& token, const std::string& password);
    /// Makes the accounts of auth.credentials match the config (start-up): adds, updates,
    /// and deletes config accounts no longer listed. Throws std::runtime_error when a listed
    /// username belongs to a registered account.
    void syncCredentials();
    /// The source ("registered"/"config") and creation time of accounts, for the admin list.
    std::vector<UserRow> rows(const std::string& like, std::size_t limit, std::size_t offset,
                              std::int64_t& total);
    /// After stop, every call throws AccountError(Unavailable).
    void shutdown() { _running = false; }

private:
    /// Runs `fn`, turning StoreError into AccountError(Unavailable) (logged).
    template <class Fn>
    auto guarded(const char* what, Fn fn) -> decltype(fn());
    void requireRunning() const;
    /// Audits a login limiter that has just started refusing `address` or `loginKey`.
    void noteLimits(const std::string& loginKey, const std::string& address);
    AuthResult check(const std::optional<UserRow>& user, const std::string& loginKey,
                     const std::string& password, const std::string& clientAddress);
    UserRow requireWritable(std::int64_t id);
    void setPassword(const UserRow& user, const std::string& newPassword,
                     const std::string& keepSessionId, const std::string& reason);
    static Identity identityOf(const UserRow& row);
    /// The rate-limit key of an account: its id, so username and email share one budget.
    static std::string accountKey(std::int64_t id);

    std::shared_ptr<const AuthConfig> _config;
    AuthStore& _store;
    PasswordHasher& _hasher;
    TokenService& _tokens;
    SessionManager& _sessions;
    Mailer& _mailer;
    HostContext& _context;
    RateLimiter _addressFailures;
    RateLimiter _accountFailures;
    RateLimiter _resetMails;
    std::atomic<bool> _running{true};
    Counter* _loginsOk = nullptr;
    Counter* _loginsFailed = nullptr;
    Counter* _loginsLimited = nullptr;
};

}  // namespace switchboard::auth
