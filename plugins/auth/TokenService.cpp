// JWT issue/verify and revocation (see TokenService.h).
#include "TokenService.h"

#include <Poco/JWT/Token.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "Secrets.h"
#include "switchboard/Clock.h"
#include "switchboard/SecretFile.h"

namespace switchboard::auth {

namespace {

constexpr std::size_t kMaxTokenLength = 8192;

/// The integer claim `name`, or nullopt if absent or not an integer.
std::optional<std::int64_t> intClaim(const Poco::JSON::Object& payload, const std::string& name) {
    if (!payload.has(name)) {
        return std::nullopt;
    }
    Poco::Dynamic::Var value = payload.get(name);
    if (!value.isInteger()) {
        return std::nullopt;
    }
    return value.convert<Poco::Int64>();
}

std::optional<std::string> stringClaim(const Poco::JSON::Object& payload, const std::string& name) {
    if (!payload.has(name)) {
        return std::nullopt;
    }
    Poco::Dynamic::Var value = payload.get(name);
    if (!value.isString()) {
        return std::nullopt;
    }
    return value.extract<std::string>();
}

}  // namespace

TokenService::TokenService(const std::string& secret, const std::string& algorithm,
                           std::chrono::milliseconds ttl, std::chrono::milliseconds leeway,
                           AuthStore& store)
    : _signer(secret),
      _algorithm(algorithm),
      _ttl(std::max<std::int64_t>(1, ttl.count() / 1000)),
      _leeway(leeway.count() / 1000),
      _store(store) {
    _signer.setAlgorithms({algorithm});
}

TokenService::Issued TokenService::issue(std::int64_t userId, const std::string& sessionId) const {
    Issued issued;
    std::int64_t nowMs = epochMillis();
    std::int64_t now = nowMs / 1000;
    issued.jti = randomHex(16);
    issued.expires = now + _ttl;
    Poco::JWT::Token token;
    token.setType("JWT");
    token.payload().set("sub", std::to_string(userId));
    token.payload().set("iat", Poco::Int64(now));
    // iat has whole seconds: a token issued in the second of a password change, before it,
    // must still be told from one issued after it (auth_users.tokens_after is in ms).
    token.payload().set("iat_ms", Poco::Int64(nowMs));
    token.payload().set("exp", Poco::Int64(issued.expires));
    token.payload().set("jti", issued.jti);
    if (!sessionId.empty()) {
        token.payload().set("sid", sessionId);
    }
    issued.token = _signer.sign(token, _algorithm);
    return issued;
}

std::optional<TokenService::Claims> TokenService::verify(const std::string& text,
                                                         std::string& reason) const {
    // Exactly header.payload.signature in base64url: Poco's verify ignores anything after a
    // third '.', so "<token>.junk" would otherwise pass as the same token.
    bool wellFormed = !text.empty() && text.size() <= kMaxTokenLength &&
                      std::count(text.begin(), text.end(), '.') == 2;
    for (char c : text) {
        wellFormed = wellFormed && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                    c == '_' || c == '.');
    }
    if (!wellFormed) {
        reason = "malformed token";
        return std::nullopt;
    }
    Poco::JWT::Token token;
    try {
        // Poco checks the alg against the allowed set (so "none" and other algs fail) before
        // the signature; it does not look at any claim.
        token = _signer.verify(text);
    } catch (const Poco::Exception& e) {
        reason = e.displayText();
        return std::nullopt;
    } catch (const std::exception& e) {
        reason = e.what();
        return std::nullopt;
    }
    const Poco::JSON::Object& payload = token.payload();
    auto exp = intClaim(payload, "exp");
    auto iat = intClaim(payload, "iat");
    auto sub = stringClaim(payload, "sub");
    auto jti = stringClaim(payload, "jti");
    if (!exp || !iat || !sub || !jti || jti->empty()) {
        reason = "missing or malformed claims";
        return std::nullopt;
    }
    std::int64_t now = epochMillis() / 1000;
    if (*exp + _leeway < now) {
        reason = "token expired";
        return std::nullopt;
    }
    if (*iat - _leeway > now) {
        reason = "token issued in the future";
        return std::nullopt;
    }
    if (auto nbf = intClaim(payload, "nbf"); payload.has("nbf") && (!nbf || *nbf - _leeway > now)) {
        reason = "token not yet valid";
        return std::nullopt;
    }
    Claims claims;
    try {
        std::size_t used = 0;
        claims.userId = std::stoll(*sub, &used);
        if (used != sub->size() || claims.userId <= 0) {
            throw std::invalid_argument("sub");
        }
    } catch (const std::exception&) {
        reason = "malformed sub claim";
        return std::nullopt;
    }
    if (isRevoked(*jti)) {
        reason = "token revoked";
        return std::nullopt;
    }
    claims.jti = *jti;
    claims.sessionId = stringClaim(payload, "sid").value_or("");
    claims.issuedAt = *iat;
    // iat_ms when it agrees with iat; a token without it (an earlier version's, or one minted
    // elsewhere with the secret) counts from the end of its iat second, as before.
    auto iatMs = intClaim(payload, "iat_ms");
    claims.issuedAtMs = iatMs && *iatMs / 1000 == *iat ? *iatMs : *iat * 1000 + 999;
    claims.expires = *exp;
    return claims;
}

void TokenService::revoke(const std::string& jti, std::int64_t expires) {
    if (jti.empty()) {
        return;
    }
    {
        std::unique_lock<std::shared_mutex> lock(_mutex);
        _revoked[jti] = expires;
    }
    _store.revokeToken(jti, expires + _leeway);
    if (_onRevoked) {
        _onRevoked(jti, expires);
    }
}

void TokenService::remember(const std::string& jti, std::int64_t expires) {
    if (jti.empty()) {
        return;
    }
    std::unique_lock<std::shared_mutex> lock(_mutex);
    _revoked[jti] = expires;
}

bool TokenService::isRevoked(const std::string& jti) const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    return _revoked.count(jti) != 0;
}

void TokenService::load() {
    auto rows = _store.revokedTokens(epochMillis() / 1000);
    std::unique_lock<std::shared_mutex> lock(_mutex);
    for (const auto& [jti, expires] : rows) {
        _revoked[jti] = expires;
    }
}

void TokenService::purge(std::int64_t now) {
    {
        std::unique_lock<std::shared_mutex> lock(_mutex);
        for (auto it = _revoked.begin(); it != _revoked.end();) {
            it = it->second + _leeway < now ? _revoked.erase(it) : std::next(it);
        }
    }
    _store.purge(now);
}

std::size_t TokenService::revokedCount() const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    return _revoked.size();
}

std::string TokenService::resolveSecret(const std::string& configured, const std::string& dataDir,
                                        Poco::Logger& logger) {
    if (!configured.empty()) {
        if (configured.size() < 32) {
            logger.warning("jwt.secret is shorter than 32 bytes; use a longer random secret");
        }
        return configured;
    }
    std::string path = dataDir + "/jwt-secret";
    bool created = false;
    std::string text = SecretFile::readOrCreate(
        path, [] { return randomHex(32) + "\n"; }, created);
    std::string secret = text.substr(0, text.find('\n'));
    if (secret.size() < 32) {
        throw std::runtime_error(path +
                                 " holds no usable secret (expected 64 hex digits); "
                                 "delete it to generate a new one");
    }
    if (!created) {
        return secret;
    }
    logger.information(
        "generated a JWT signing secret in %s (set plugins.auth.jwt.secret or "
        "SWITCHBOARD_JWT_SECRET to choose one)",
        path);
    return secret;
}

}  // namespace switchboard::auth
