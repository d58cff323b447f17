// The devices plugin's configuration: declared once as a schema, parsed into an immutable struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "switchboard/Config.h"

namespace switchboard::devices {

struct DevicesConfig {
    std::string listener = "public";
    std::chrono::milliseconds offlineAfter{180000};
    std::chrono::milliseconds checkInterval{5000};
    std::chrono::milliseconds tokenTtl{86400000};
    /// ssh_host_key as configured ("" = generate one under the data directory).
    std::string sshHostKeyFile;
    /// The configured host key's public line, read and validated by parse().
    std::string sshHostKey;
    std::size_t maxFieldLength = 1024;
    std::uint64_t failedTokensPerDevice = 10;
    std::uint64_t failedTokensPerAddress = 30;
    std::chrono::milliseconds rateWindow{900000};
    /// Heartbeats, SSH keys and details need the secret issued at registration.
    bool requireDeviceSecret = false;

    static void declare(ConfigSchema& schema);
    /// Throws ConfigError for what the schema cannot express: an unreadable or malformed
    /// ssh_host_key.
    static DevicesConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::devices
