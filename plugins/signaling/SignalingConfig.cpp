// Signaling configuration schema and parsing (see SignalingConfig.h).
#include "SignalingConfig.h"

namespace switchboard::signaling {

void SignalingConfig::declare(ConfigSchema& schema) {
    schema.string("listener", "public", "Listener serving /organizations and the /ws WebSocket")
        .duration("reconnect_grace", "10s",
                  "A peer whose connection broke without a close is announced offline only "
                  "after this long, unless it registers again (0: at once)")
        .integer("max_organizations_per_user", 100, 1, 1000000,
                 "Organizations one account may create")
        .choice("join_policy", "open", {"open", "owner"},
                "open: any account joins an organization by its id (the seed); owner: only the "
                "owner adds members, with POST /organizations/{id}/members")
        .integer("max_name_length", 128, 1, 4096, "Longest organization name, in bytes")
        .integer("max_agent_id_length", 128, 1, 4096, "Longest agent_id accepted, in bytes")
        .integer("max_agents_per_user", 100, 1, 1000000,
                 "Agents one user may have registered in one organization at a time (each "
                 "registration is announced to every peer of the organization)")
        .number("signal_rate", 100,
                "Signals one connection may relay per second on average (beyond: an error "
                "message, nothing relayed)")
        .number("signal_burst", 200, "Signals one connection may relay at once above the rate")
        .integer("max_pending_messages", 16, 1, 1024,
                 "Messages a connection may send before its register is answered (beyond: "
                 "closed)");
}

SignalingConfig SignalingConfig::parse(const ConfigSection& section) {
    SignalingConfig c;
    c.listener = section.getString("listener");
    c.reconnectGrace = section.getDuration("reconnect_grace");
    c.maxOrganizationsPerUser =
        static_cast<std::size_t>(section.getInt("max_organizations_per_user"));
    c.joinPolicy = section.getString("join_policy");
    c.maxNameLength = static_cast<std::size_t>(section.getInt("max_name_length"));
    c.maxAgentIdLength = static_cast<std::size_t>(section.getInt("max_agent_id_length"));
    c.maxAgentsPerUser = static_cast<std::size_t>(section.getInt("max_agents_per_user"));
    c.signalRate = section.getNumber("signal_rate");
    c.signalBurst = section.getNumber("signal_burst");
    c.maxPendingMessages = static_cast<std::size_t>(section.getInt("max_pending_messages"));
    std::vector<ConfigError> errors;
    if (c.signalRate <= 0) {
        errors.push_back(section.error("signal_rate", "must be above 0"));
    }
    if (c.signalBurst < 1) {
        errors.push_back(section.error("signal_burst", "must be at least 1"));
    }
    if (!errors.empty()) {
        throw ConfigError(errors);
    }
    return c;
}

}  // namespace switchboard::signaling
