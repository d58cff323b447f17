// Bus payloads of the messaging plugin, one definition per topic. No message bodies ever go on
// the bus: only who logged in or out, on which connection.
#pragma once

#include <cstdint>
#include <string>

namespace switchboard::messaging {

struct MessagingEvents {
    /// chat.login: {"user_id", "login", "connection", "peer"}
    static std::string login(std::int64_t userId, const std::string& login,
                             std::uint64_t connection, const std::string& peer);
    /// chat.logout: {"user_id", "login", "connection", "reason"}
    static std::string logout(std::int64_t userId, const std::string& login,
                              std::uint64_t connection, const std::string& reason);
};

}  // namespace switchboard::messaging
