// Account input rules (see AccountRules.h).
#include "AccountRules.h"

namespace switchboard::auth {

namespace {

constexpr std::size_t kMaxUsername = 64;
constexpr std::size_t kMaxEmail = 254;
constexpr std::size_t kMaxPassword = 1024;

bool isControlOrSpace(unsigned char c) {
    return c <= 0x20 || c == 0x7f;
}

}  // namespace

std::string usernameProblem(const std::string& username) {
    if (username.empty()) {
        return "username must not be empty";
    }
    if (username.size() > kMaxUsername) {
        return "username is too long (limit " + std::to_string(kMaxUsername) + " bytes)";
    }
    for (unsigned char c : username) {
        if (isControlOrSpace(c)) {
            return "username must not contain spaces or control characters";
        }
        if (c == '@') {
            return "username must not contain '@'";
        }
    }
    return {};
}

std::string emailProblem(const std::string& email) {
    if (email.size() > kMaxEmail) {
        return "email is too long (limit " + std::to_string(kMaxEmail) + " bytes)";
    }
    std::size_t at = email.find('@');
    bool valid = at != std::string::npos && at > 0 && at < 65 &&
                 email.find('@', at + 1) == std::string::npos;
    if (valid) {
        std::string domain = email.substr(at + 1);
        std::size_t dot = domain.find('.');
        valid = !domain.empty() && dot != std::string::npos && domain.front() != '.' &&
                domain.back() != '.' && domain.find("..") == std::string::npos;
    }
    for (unsigned char c : email) {
        valid = valid && !isControlOrSpace(c);
    }
    return valid ? std::string() : "email is not a valid email address";
}

std::string passwordProblem(const std::string& password, std::size_t minLength) {
    if (password.find('\0') != std::string::npos) {
        return "password must not contain NUL characters";
    }
    std::size_t characters = 0;  // UTF-8 code points, not bytes
    for (unsigned char c : password) {
        characters += (c & 0xC0) != 0x80 ? 1 : 0;
    }
    if (characters < minLength) {
        return "password must be at least " + std::to_string(minLength) + " characters";
    }
    if (password.size() > kMaxPassword) {
        return "password is too long (limit " + std::to_string(kMaxPassword) + " bytes)";
    }
    return {};
}

std::string foldCase(const std::string& text) {
    std::string out = text;
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

}  // namespace switchboard::auth
