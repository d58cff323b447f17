// Configuration problems, one or several per exception (see switchboard/Config.h).
#include "switchboard/Config.h"

namespace switchboard {

namespace {

std::vector<std::string> messagesOf(const std::vector<ConfigError>& errors) {
    if (errors.empty()) {
        throw std::logic_error("ConfigError: no problems given");
    }
    std::vector<std::string> messages;
    for (const ConfigError& error : errors) {
        messages.insert(messages.end(), error.messages().begin(), error.messages().end());
    }
    return messages;
}

std::string joined(const std::vector<std::string>& messages) {
    std::string text;
    for (const std::string& message : messages) {
        text += (text.empty() ? "" : "\n") + message;
    }
    return text;
}

}  // namespace

ConfigError::ConfigError(const std::string& message)
    : std::runtime_error(message),
      _messages(std::make_shared<const std::vector<std::string>>(1, message)) {}

ConfigError::ConfigError(const std::vector<ConfigError>& errors)
    : std::runtime_error(joined(messagesOf(errors))),
      _messages(std::make_shared<const std::vector<std::string>>(messagesOf(errors))) {}

ConfigError::~ConfigError() = default;

}  // namespace switchboard
