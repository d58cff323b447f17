// The pairing plugin's configuration: declared once as a schema, parsed into an immutable struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "switchboard/Config.h"

namespace switchboard::pairing {

struct PairingConfig {
    std::string listener = "pairing";
    std::chrono::milliseconds offlineAfter{90000};
    std::chrono::milliseconds checkInterval{5000};
    std::size_t maxFieldLength = 16384;
    std::uint64_t failedLookupsPerAddress = 20;
    std::uint64_t failedLookupsPerNetwork = 60;
    std::uint64_t failedLookupsTotal = 1000;
    std::uint64_t failedLookupsUnderAttack = 1;
    std::uint64_t failedLookupsPerNetworkUnderAttack = 4;
    std::chrono::milliseconds rateWindow{60000};
    std::uint64_t registrationsPerAddress = 30;
    std::uint64_t registrationsPerNetwork = 120;
    std::chrono::milliseconds registrationWindow{60000};
    /// Heartbeats and re-registrations of online servers need the server_secret.
    bool requireServerSecret = false;

    static void declare(ConfigSchema& schema);
    /// Reads the validated section (every bound is in the schema).
    static PairingConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::pairing
