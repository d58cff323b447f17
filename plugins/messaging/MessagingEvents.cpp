// Messaging event payloads (see MessagingEvents.h).
#include "MessagingEvents.h"

#include "switchboard/Json.h"

namespace switchboard::messaging {

std::string MessagingEvents::login(std::int64_t userId, const std::string& login,
                                   std::uint64_t connection, const std::string& peer) {
    return "{\"user_id\":" + std::to_string(userId) + ",\"login\":" + json::quote(login) +
           ",\"connection\":" + std::to_string(connection) + ",\"peer\":" + json::quote(peer) + "}";
}

std::string MessagingEvents::logout(std::int64_t userId, const std::string& login,
                                    std::uint64_t connection, const std::string& reason) {
    return "{\"user_id\":" + std::to_string(userId) + ",\"login\":" + json::quote(login) +
           ",\"connection\":" + std::to_string(connection) + ",\"reason\":" + json::quote(reason) +
           "}";
}

std::string MessagingEvents::stored(
    const std::vector<std::pair<std::int64_t, std::int64_t>>& messages) {
    std::string out = "{\"messages\":[";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        out += i == 0 ? "{\"id\":" : ",{\"id\":";
        out += std::to_string(messages[i].first);
        out += ",\"receiver_id\":";
        out += std::to_string(messages[i].second);
        out += '}';
    }
    return out + "]}";
}

}  // namespace switchboard::messaging
