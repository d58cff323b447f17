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
    schema.boolean("require_server_secret", false,
                   "Heartbeats, and re-registrations of a server that is online, must carry "
                   "the server_secret its registration returned; off, the ssh_pubkey alone is "
                   "enough, as for the seed's servers");
    schema.section("rate_limit", "Failed pairing-code look-ups (429 beyond)")
        .integer("per_address", 20, 0, 1000000,
                 "Failed look-ups per client address per window "
                 "(0: no limit)")
        .integer("per_network", 60, 0, 100000000,
                 "Failed look-ups per client network (its /24 for IPv4, /64 for IPv6) per "
                 "window (0: no limit)")
        .integer("total", 1000, 0, 100000000,
                 "Failed look-ups from all addresses per window that count as an attack "
                 "(0: never): until the window ends an address may fail only "
                 "per_address_under_attack times and a network per_network_under_attack "
                 "times; an address that has not failed is never refused")
        .integer("per_address_under_attack", 1, 1, 1000000,
                 "Failed look-ups per address per window during an attack")
        .integer("per_network_under_attack", 4, 1, 100000000,
                 "Failed look-ups per network per window during an attack")
        .duration("window", "60s", "Length of the counting window")
        .atLeast("1ms");
    schema.section("registration_limit", "New servers registered per client address (429 beyond)")
        .integer("per_address", 30, 0, 1000000,
                 "Registrations of keys not yet known per client address per window (0: no "
                 "limit); re-registering a known key is not counted")
        .integer("per_network", 120, 0, 100000000,
                 "The same per client network (/24 or /64) per window (0: no limit)")
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
    c.failedLookupsPerNetwork =
        static_cast<std::uint64_t>(section.getInt("rate_limit.per_network"));
    c.failedLookupsTotal = static_cast<std::uint64_t>(section.getInt("rate_limit.total"));
    c.failedLookupsUnderAttack =
        static_cast<std::uint64_t>(section.getInt("rate_limit.per_address_under_attack"));
    c.failedLookupsPerNetworkUnderAttack =
        static_cast<std::uint64_t>(section.getInt("rate_limit.per_network_under_attack"));
    c.registrationsPerAddress =
        static_cast<std::uint64_t>(section.getInt("registration_limit.per_address"));
    c.registrationsPerNetwork =
        static_cast<std::uint64_t>(section.getInt("registration_limit.per_network"));
    c.registrationWindow = section.getDuration("registration_limit.window");
    c.requireServerSecret = section.getBool("require_server_secret");
    c.rateWindow = section.getDuration("rate_limit.window");
    return c;
}

}  // namespace switchboard::pairing
