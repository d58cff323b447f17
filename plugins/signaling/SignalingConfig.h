// The signaling plugin's configuration: declared once as a schema, parsed into an immutable
// struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "switchboard/Config.h"

namespace switchboard::signaling {

struct SignalingConfig {
    std::string listener = "public";
    /// A connection lost without a close frame is announced offline only after this long,
    /// unless the agent registers again within it (0: at once).
    std::chrono::milliseconds reconnectGrace{10000};
    std::size_t maxOrganizationsPerUser = 100;
    /// "open": any account joins by organization id (the seed); "owner": only the owner adds
    /// members (POST /organizations/{id}/members).
    std::string joinPolicy = "open";
    std::size_t maxNameLength = 128;
    std::size_t maxAgentIdLength = 128;
    /// Agents one user may have registered in one organization at a time.
    std::size_t maxAgentsPerUser = 100;
    /// Signals a connection may relay per second, and the burst above that rate.
    double signalRate = 100;
    double signalBurst = 200;
    /// Messages a connection may send before its registration is answered.
    std::size_t maxPendingMessages = 16;

    static void declare(ConfigSchema& schema);
    static SignalingConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::signaling
