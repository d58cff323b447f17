// What makes a username, an email address and a password acceptable. Shared by the HTTP
// routes, the Accounts service and the config check of auth.credentials.
#pragma once

#include <cstddef>
#include <string>

namespace switchboard::auth {

/// "" if acceptable, else the reason ("username must not contain '@'", ...). Usernames are
/// 1-64 bytes, no spaces, control characters or '@' (so a login with '@' is an email).
std::string usernameProblem(const std::string& username);
/// "" if acceptable, else "email is not a valid email address" or "email is too long ...".
std::string emailProblem(const std::string& email);
/// "" if acceptable, else the reason ("password must be at least 8 characters", ...).
std::string passwordProblem(const std::string& password, std::size_t minLength);
/// ASCII lower case: the key usernames and emails are unique and looked up by.
std::string foldCase(const std::string& text);

}  // namespace switchboard::auth
