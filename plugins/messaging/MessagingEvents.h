// Bus payloads of the messaging plugin, one definition per topic. No message bodies ever go on
// the bus: only who logged in or out, on which connection, and the ids of stored messages.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::messaging {

struct MessagingEvents {
    /// chat.login: {"user_id", "login", "connection", "peer"}
    static std::string login(std::int64_t userId, const std::string& login,
                             std::uint64_t connection, const std::string& peer);
    /// chat.logout: {"user_id", "login", "connection", "reason"}
    static std::string logout(std::int64_t userId, const std::string& login,
                              std::uint64_t connection, const std::string& reason);
    /// chat.stored: {"messages": [{"id", "receiver_id"}, ...]}, the messages (id, receiver id)
    /// one commit stored; other nodes read them from the store for their own connections.
    static std::string stored(const std::vector<std::pair<std::int64_t, std::int64_t>>& messages);
};

}  // namespace switchboard::messaging
