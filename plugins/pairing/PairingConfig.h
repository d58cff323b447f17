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
    std::uint64_t failedLookupsTotal = 1000;
    std::chrono::milliseconds rateWindow{60000};

    static void declare(ConfigSchema& schema);
    /// Reads the validated section (every bound is in the schema).
    static PairingConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::pairing
