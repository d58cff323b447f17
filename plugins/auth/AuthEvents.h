// Event payloads the auth plugin publishes: user.created, user.deleted, session.revoked.
#pragma once

#include <cstdint>
#include <string>

namespace switchboard::auth {

class AuthEvents {
public:
    /// {"user_id": ..., "username": ..., "email": ...} ("" for an absent username or email)
    static std::string userCreated(std::int64_t userId, const std::string& username,
                                   const std::string& email);
    /// {"user_id": ..., "username": ..., "email": ...}, as userCreated
    static std::string userDeleted(std::int64_t userId, const std::string& username,
                                   const std::string& email);
    /// {"session_id": ..., "user_id": ..., "username": ..., "reason": ...}
    static std::string sessionRevoked(const std::string& sessionId, std::int64_t userId,
                                      const std::string& username, const std::string& reason);
};

}  // namespace switchboard::auth
