// Pairing configuration schema and parsing (see PairingConfig.h).
#include "PairingConfig.h"

namespace switchboard::pairing {

void PairingConfig::declare(ConfigSchema& schema) {
    schema.string("listener", "pairing", "Listener serving the TunneLink endpoints")
        .duration("offline_after", "90s",
                  "A server without a heartbeat this long goes offline "
                  "and its pairing code is released")
        .atLeast("1ms")
        .duration("check_interval", "5s", "How often servers are checked for going offline")
        .atLeast("1ms")
        .size("max_field_length", "16KiB", "Longest ssh_pubkey / ssh_user accepted")
        .atLeast("1B");
    schema.section("rate_limit", "Failed pairing-code look-ups (429 beyond)")
        .integer("per_address", 20, 0, 1000000,
                 "Failed look-ups per client address per window "
                 "(0: no limit)")
        .integer("total", 1000, 0, 100000000,
                 "Failed look-ups from all addresses per window "
                 "(0: no limit)")
        .duration("window", "60s", "Length of the counting window")
        .atLeast("1ms");
}

PairingConfig PairingConfig::parse(const ConfigSection& section) {
    PairingConfig c;
    c.listener = section.getString("listener");
    c.offlineAfter = section.getDuration("offline_after");
    c.checkInterval = section.getDuration("check_interval");
    c.maxFieldLength = section.getSize("max_field_length");
    c.failedLookupsPerAddress =
        static_cast<std::uint64_t>(section.getInt("rate_limit.per_address"));
    c.failedLookupsTotal = static_cast<std::uint64_t>(section.getInt("rate_limit.total"));
    c.rateWindow = section.getDuration("rate_limit.window");
    return c;
}

}  // namespace switchboard::pairing
