// The auth plugin's configuration: declared once as a schema, parsed into an immutable struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "switchboard/Config.h"

namespace switchboard::auth {

struct AuthConfig {
    enum class SameSite { Strict, Lax, None };
    enum class SmtpTls { None, StartTls, Implicit };

    std::string listener = "public";
    /// auth.credentials: username -> Argon2id hash string or (with a warning) plain password.
    std::vector<std::pair<std::string, std::string>> credentials;
    std::size_t passwordMinLength = 8;

    std::string jwtSecret;  ///< "" -> generated into <data_dir>/jwt-secret at first start
    std::string jwtAlgorithm = "HS256";
    std::chrono::milliseconds jwtTtl{24 * 3600 * 1000};
    std::chrono::milliseconds jwtLeeway{30000};

    std::uint64_t hashMemory = 19 * 1024 * 1024;  ///< bytes (OWASP minimum for Argon2id)
    std::uint64_t hashPasses = 2;
    std::size_t hashParallel = 0;  ///< concurrent hashes; 0 -> number of cores

    std::chrono::milliseconds idleTimeout{30 * 60 * 1000};  ///< 0: none
    std::chrono::milliseconds lifetime{24 * 3600 * 1000};   ///< 0: none
    std::chrono::milliseconds checkInterval{60000};
    SameSite sameSite = SameSite::Strict;
    bool cookieAlwaysSecure = false;
    std::size_t maxSessionsPerUser = 100;

    std::uint64_t failuresPerAddress = 20;
    std::uint64_t failuresPerAccount = 10;
    std::chrono::milliseconds rateWindow{5 * 60 * 1000};

    std::chrono::milliseconds resetTtl{30 * 60 * 1000};
    std::uint64_t resetMailsPerAccount = 3;
    std::chrono::milliseconds resetWindow{15 * 60 * 1000};
    std::string resetUrl;  ///< may hold {token}
    std::string resetSubject = "Password reset";

    std::string smtpHost;  ///< "" -> no mail is sent (logged)
    int smtpPort = 25;
    std::string smtpFrom = "switchboard@localhost";
    SmtpTls smtpTls = SmtpTls::None;
    std::string smtpUsername;
    std::string smtpPassword;
    std::chrono::milliseconds smtpTimeout{30000};
    std::string smtpCaFile;
    bool smtpVerify = true;

    bool benchmarkRoute = false;

    static void declare(ConfigSchema& schema);
    /// Throws ConfigError holding every value the schema cannot check (credentials names and
    /// passwords, smtp.from).
    static AuthConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::auth
