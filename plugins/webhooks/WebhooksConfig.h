// Webhooks configuration: the hooks (URL, topic patterns, secret, timeouts, retry bound) and
// the shared queue and delivery threads.
#pragma once

#include <Poco/URI.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/Config.h"

namespace switchboard::webhooks {

/// One receiver: plugins.webhooks.hooks.<name>.
struct HookConfig {
    std::string name;
    Poco::URI url;
    std::string displayUrl;  ///< scheme://host:port/path: no credentials, no query
    std::vector<std::string> topics;
    std::string secret;
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds retryFor{60000};
    std::chrono::milliseconds backoff{1000};
    std::chrono::milliseconds maxBackoff{30000};
    std::string caFile;  ///< https: CA file instead of the system's
};

struct WebhooksConfig {
    std::vector<std::shared_ptr<const HookConfig>> hooks;
    std::size_t queueSize = 1000;
    std::size_t threads = 2;
    std::size_t history = 100;

    static void declare(ConfigSchema& schema);
    /// Throws ConfigError (all problems at once) for bad URLs, topics or secrets.
    static WebhooksConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::webhooks
