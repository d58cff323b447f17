// User accounts as other plugins see them: the auth plugin provides this interface in the
// service registry as "accounts" (signaling checks bearer tokens, messaging logs users in).
// Find it with context.services().find<Accounts>("accounts"); it is withdrawn when auth stops.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard {

class HttpResponse;

/// Who an account is. Never carries a password or hash.
struct Identity {
    std::int64_t id = 0;   ///< stable, never reused
    std::string username;  ///< "" for accounts registered with an email only
    std::string email;     ///< "" for static accounts from auth.credentials

    /// The name to show: the username, or the email for accounts without one.
    const std::string& login() const { return username.empty() ? email : username; }
};

/// Why an account operation was refused. what() is user-facing (e.g. "Email already
/// registered") and may be sent to the client as is.
class AccountError : public std::runtime_error {
public:
    enum class Code {
        InvalidInput,  ///< malformed or weak input (bad email, short password, ...)
        Duplicate,     ///< the username or email belongs to another account
        NotFound,      ///< no such account
        ReadOnly,      ///< a static account from auth.credentials: change it in the config
        Unavailable,   ///< auth is stopped or its store failed
    };
    AccountError(Code code, const std::string& message)
        : std::runtime_error(message), _code(code) {}
    Code code() const { return _code; }
    /// Answers the error over HTTP with {"error": what()}: 400 InvalidInput, 409 Duplicate,
    /// 404 NotFound, 403 ReadOnly; Unavailable as a failing store (HttpResponse::
    /// storeUnavailable: 503 with Retry-After).
    void answer(HttpResponse& resp) const;

private:
    Code _code;
};

/// The outcome of Accounts::authenticate.
struct AuthResult {
    enum class Status {
        Ok,                  ///< identity is set
        InvalidCredentials,  ///< unknown login or wrong password (indistinguishable on purpose)
        RateLimited,         ///< too many failures from this address or for this account
    };
    Status status = Status::InvalidCredentials;
    Identity identity;
    std::int64_t retryAfter = 0;  ///< seconds, for RateLimited
};

/// Account operations. All methods are thread-safe. Methods that hash a password
/// (authenticate, create, changePassword) run Argon2id and BLOCK the calling thread for tens of
/// milliseconds, longer while other hashes queue (auth.password_hash.parallel at a time): call
/// them from a worker thread, never from an event-loop callback. Methods that change accounts
/// throw AccountError; the store failing becomes AccountError(Unavailable).
class Accounts {
public:
    virtual ~Accounts() = default;

    /// Checks a login (username, or email when it contains '@') and password. Failures are
    /// counted per `clientAddress` and per login under auth.rate_limit; while either is over
    /// its limit every attempt returns RateLimited. Unknown logins cost as much time as wrong
    /// passwords. Blocks (hashing).
    virtual AuthResult authenticate(const std::string& login, const std::string& password,
                                    const std::string& clientAddress) = 0;

    /// The account a JWT from POST /login belongs to, if the token is well-formed, signed with
    /// the configured algorithm and key, not expired, not revoked, and the account still
    /// exists. Cheap (no hashing); reads the store once.
    virtual std::optional<Identity> verifyBearer(const std::string& token) = 0;

    /// Registers an account. `username` may be "" (email-only account). Throws AccountError
    /// (InvalidInput with the reason, Duplicate "Email already registered" / "Username already
    /// taken"). Blocks (hashing).
    virtual Identity create(const std::string& username, const std::string& email,
                            const std::string& password) = 0;

    /// Sets a new password; every session and token of the account is revoked. Throws
    /// AccountError (InvalidInput, NotFound, ReadOnly). Blocks (hashing).
    virtual void changePassword(std::int64_t id, const std::string& newPassword) = 0;

    /// Sets a new email. Throws AccountError (InvalidInput, Duplicate, NotFound, ReadOnly).
    virtual void changeEmail(std::int64_t id, const std::string& email) = 0;

    /// Deletes the account, ends its sessions and tokens, publishes `user.deleted`. Throws
    /// AccountError (NotFound, ReadOnly).
    virtual void remove(std::int64_t id) = 0;

    /// The account with this username, or email when `login` contains '@' (case-insensitive).
    virtual std::optional<Identity> find(const std::string& login) = 0;
    virtual std::optional<Identity> findById(std::int64_t id) = 0;
    /// Accounts ordered by id, at most `limit` starting at `offset`.
    virtual std::vector<Identity> list(std::size_t limit, std::size_t offset) = 0;

    /// Mails a one-time password reset token if the account exists and has an email; does
    /// nothing visible otherwise (callers always answer "sent"). Never blocks on SMTP.
    virtual void requestPasswordReset(const std::string& login) = 0;
};

}  // namespace switchboard
