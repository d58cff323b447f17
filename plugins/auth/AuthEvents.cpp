// Auth event payloads (see AuthEvents.h).
#include "AuthEvents.h"

#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {

std::string account(std::int64_t userId, const std::string& username, const std::string& email) {
    return "{\"user_id\":" + std::to_string(userId) + ",\"username\":" + json::quote(username) +
           ",\"email\":" + json::quote(email) + "}";
}

}  // namespace

std::string AuthEvents::userCreated(std::int64_t userId, const std::string& username,
                                    const std::string& email) {
    return account(userId, username, email);
}

std::string AuthEvents::userDeleted(std::int64_t userId, const std::string& username,
                                    const std::string& email) {
    return account(userId, username, email);
}

std::string AuthEvents::sessionRevoked(const std::string& sessionId, std::int64_t userId,
                                       const std::string& username, const std::string& reason) {
    return "{\"session_id\":" + json::quote(sessionId) + ",\"user_id\":" + std::to_string(userId) +
           ",\"username\":" + json::quote(username) + ",\"reason\":" + json::quote(reason) + "}";
}

}  // namespace switchboard::auth
