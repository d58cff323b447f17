// JWTs for bearer authentication: issued by POST /login, verified with Poco::JWT under one
// algorithm (HS256 by default), with the claims Poco does not check (exp, iat, sub, jti)
// checked here and revoked token ids kept in memory and in the store until they expire.
#pragma once

#include <Poco/JWT/Signer.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "AuthStore.h"

namespace Poco {
class Logger;
}

namespace switchboard::auth {

class TokenService {
public:
    struct Issued {
        std::string token;
        std::string jti;
        std::int64_t expires = 0;  ///< s
    };
    struct Claims {
        std::int64_t userId = 0;
        std::string jti;
        std::string sessionId;        ///< sid claim: the login session issued with it ("" if none)
        std::int64_t issuedAt = 0;    ///< s (iat)
        std::int64_t issuedAtMs = 0;  ///< ms (iat_ms, or the end of iat's second)
        std::int64_t expires = 0;
    };

    TokenService(const std::string& secret, const std::string& algorithm,
                 std::chrono::milliseconds ttl, std::chrono::milliseconds leeway, AuthStore& store);

    /// A signed token with sub, iat (and iat_ms), exp, jti (and sid when `sessionId` is set).
    Issued issue(std::int64_t userId, const std::string& sessionId) const;
    /// The claims of a valid token; nullopt with `reason` set otherwise (bad format, another
    /// alg, bad signature, missing or past exp, iat in the future, revoked). Never throws.
    std::optional<Claims> verify(const std::string& token, std::string& reason) const;

    /// Revokes a token id until its expiry (memory, and the store before returning), then
    /// tells the other nodes through the revoked callback.
    void revoke(const std::string& jti, std::int64_t expires);
    /// Remembers a revocation another node made (memory only: it stored it already).
    void remember(const std::string& jti, std::int64_t expires);
    /// Called after every revoke() (set once, before requests arrive).
    void onRevoked(std::function<void(const std::string& jti, std::int64_t expires)> callback) {
        _onRevoked = std::move(callback);
    }
    bool isRevoked(const std::string& jti) const;
    /// Loads revocations from the store (start) / forgets expired ones.
    void load();
    void purge(std::int64_t nowS);
    std::size_t revokedCount() const;

    /// The configured secret, or the one in <dataDir>/jwt-secret, generated (32 random bytes,
    /// hex) as a SecretFile when missing. Logs where a generated secret went. Throws
    /// std::runtime_error if the file cannot be read or written or holds no usable secret.
    static std::string resolveSecret(const std::string& configured, const std::string& dataDir,
                                     Poco::Logger& logger);

private:
    Poco::JWT::Signer _signer;
    const std::string _algorithm;
    const std::int64_t _ttl;     ///< s
    const std::int64_t _leeway;  ///< s
    AuthStore& _store;
    mutable std::shared_mutex _mutex;
    std::unordered_map<std::string, std::int64_t> _revoked;  ///< jti -> exp (s)
    std::function<void(const std::string&, std::int64_t)> _onRevoked;
};

}  // namespace switchboard::auth
