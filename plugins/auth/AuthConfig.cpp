// Auth configuration schema and parsing (see AuthConfig.h).
#include "AuthConfig.h"

#include <thread>

#include "AccountRules.h"

namespace switchboard::auth {

void AuthConfig::declare(ConfigSchema& schema) {
    schema.string("listener", "public", "Listener serving the auth endpoints")
        .stringMap("credentials",
                   "Static accounts, username: Argon2id hash (\"$argon2id$...\"); a plain "
                   "password is accepted with a warning")
        .integer("password_min_length", 8, 1, 1024, "Shortest password accepted")
        .boolean("benchmark_route", false,
                 "Mounts POST /_bench/communicate: /communicate answered by a C++ echo instead "
                 "of Lua (for bench/run-auth.sh only)");
    schema.section("jwt", "Bearer tokens issued by POST /login")
        .string("secret", "",
                "HMAC key; empty: 32 random bytes generated at first start and kept in "
                "<data_dir>/jwt-secret")
        .choice("algorithm", "HS256", {"HS256", "HS384", "HS512"},
                "Signing algorithm; tokens with any other alg (and none) are rejected")
        .duration("ttl", "24h", "Lifetime of a token (its exp claim)")
        .atLeast("1ms")
        .duration("leeway", "30s", "Clock skew tolerated when checking exp");
    schema.section("password_hash", "Argon2id parameters (libsodium crypto_pwhash)")
        .size("memory", "19MiB", "Memory per hash (OWASP minimum: 19MiB)")
        .between("8KiB", "4GiB")
        .integer("passes", 2, 1, 100, "Passes over the memory (OWASP minimum: 2)")
        .integer("parallel", 0, 0, 1024,
                 "Hashes computed at once; more wait in a queue (0: number of cores)");
    schema.section("sessions", "Cookie sessions (sessionToken)")
        .duration("idle_timeout", "30m", "A session unused this long ends (0s: never)")
        .duration("lifetime", "24h", "A session ends this long after login (0s: never)")
        .duration("check_interval", "60s",
                  "How often sessions are checked for expiry and the Lua session_valid rule")
        .atLeast("1ms")
        .choice("cookie_samesite", "Strict", {"Strict", "Lax", "None"},
                "SameSite attribute of the cookie (None: no attribute, as in the seed)")
        .choice("cookie_secure", "auto", {"auto", "always"},
                "Secure attribute: auto = on requests that arrived over TLS")
        .integer("max_per_user", 100, 1, 1000000,
                 "Sessions one account may hold; a login beyond ends the oldest");
    schema.section("rate_limit", "Failed logins (429 with Retry-After beyond)")
        .integer("per_address", 20, 0, 1000000,
                 "Failed logins per client address per window (0: no limit)")
        .integer("per_account", 10, 0, 1000000,
                 "Failed logins per account name per window (0: no limit)")
        .duration("window", "5m", "Length of the counting window")
        .atLeast("1ms");
    schema.section("password_reset", "POST /password/forgot and /password/reset")
        .duration("ttl", "30m", "How long a reset token stays valid")
        .atLeast("1ms")
        .integer("per_account", 3, 0, 1000000,
                 "Reset mails per account per window; more are dropped silently (0: no limit)")
        .duration("window", "15m", "Window of per_account")
        .atLeast("1ms")
        .string("url", "",
                "Link put in the mail, {token} replaced by the token (empty: token only)")
        .string("subject", "Password reset", "Subject of the reset mail");
    schema.section("smtp", "Mail server for reset mails")
        .string("host", "", "SMTP server; empty: no mail is sent (logged as a warning)")
        .integer("port", 25, 1, 65535, "SMTP port (587 for starttls, 465 for implicit)")
        .string("from", "switchboard@localhost", "Sender address")
        .choice("tls", "none", {"none", "starttls", "implicit"}, "Transport security")
        .string("username", "", "Login for AUTH LOGIN (empty: no authentication)")
        .string("password", "", "Password for AUTH LOGIN")
        .duration("timeout", "30s", "Connect and I/O timeout")
        .atLeast("1ms")
        .string("ca_file", "", "CA certificates (PEM) for TLS (empty: the system's)")
        .boolean("verify", true, "Verify the server certificate under TLS");
}

AuthConfig AuthConfig::parse(const ConfigSection& s) {
    AuthConfig c;
    c.listener = s.getString("listener");
    c.credentials = s.getStringMap("credentials");
    c.passwordMinLength = static_cast<std::size_t>(s.getInt("password_min_length"));
    c.benchmarkRoute = s.getBool("benchmark_route");

    c.jwtSecret = s.getString("jwt.secret");
    c.jwtAlgorithm = s.getString("jwt.algorithm");
    c.jwtTtl = s.getDuration("jwt.ttl");
    c.jwtLeeway = s.getDuration("jwt.leeway");

    c.hashMemory = s.getSize("password_hash.memory");
    c.hashPasses = static_cast<std::uint64_t>(s.getInt("password_hash.passes"));
    c.hashParallel = static_cast<std::size_t>(s.getInt("password_hash.parallel"));
    if (c.hashParallel == 0) {
        c.hashParallel = std::max(1u, std::thread::hardware_concurrency());
    }

    c.idleTimeout = s.getDuration("sessions.idle_timeout");
    c.lifetime = s.getDuration("sessions.lifetime");
    c.checkInterval = s.getDuration("sessions.check_interval");
    std::string sameSite = s.getString("sessions.cookie_samesite");
    c.sameSite = sameSite == "Strict" ? SameSite::Strict
                 : sameSite == "Lax"  ? SameSite::Lax
                                      : SameSite::None;
    c.cookieAlwaysSecure = s.getString("sessions.cookie_secure") == "always";
    c.maxSessionsPerUser = static_cast<std::size_t>(s.getInt("sessions.max_per_user"));

    c.failuresPerAddress = static_cast<std::uint64_t>(s.getInt("rate_limit.per_address"));
    c.failuresPerAccount = static_cast<std::uint64_t>(s.getInt("rate_limit.per_account"));
    c.rateWindow = s.getDuration("rate_limit.window");

    c.resetTtl = s.getDuration("password_reset.ttl");
    c.resetMailsPerAccount = static_cast<std::uint64_t>(s.getInt("password_reset.per_account"));
    c.resetWindow = s.getDuration("password_reset.window");
    c.resetUrl = s.getString("password_reset.url");
    c.resetSubject = s.getString("password_reset.subject");

    c.smtpHost = s.getString("smtp.host");
    c.smtpPort = static_cast<int>(s.getInt("smtp.port"));
    c.smtpFrom = s.getString("smtp.from");
    std::string tls = s.getString("smtp.tls");
    c.smtpTls = tls == "starttls"   ? SmtpTls::StartTls
                : tls == "implicit" ? SmtpTls::Implicit
                                    : SmtpTls::None;
    c.smtpUsername = s.getString("smtp.username");
    c.smtpPassword = s.getString("smtp.password");
    c.smtpTimeout = s.getDuration("smtp.timeout");
    c.smtpCaFile = s.getString("smtp.ca_file");
    c.smtpVerify = s.getBool("smtp.verify");

    // Checks the schema cannot express, all reported together.
    std::vector<ConfigError> problems;
    for (const auto& [username, secret] : c.credentials) {
        if (std::string problem = usernameProblem(username); !problem.empty()) {
            problems.push_back(s.error("credentials", "'" + username + "': " + problem));
        }
        if (secret.empty()) {
            problems.push_back(s.error("credentials", "'" + username + "': empty password"));
        }
    }
    if (c.smtpFrom.find('@') == std::string::npos) {
        problems.push_back(s.error("smtp.from", "expected an email address"));
    }
    if (!problems.empty()) {
        throw ConfigError(problems);
    }
    return c;
}

}  // namespace switchboard::auth
