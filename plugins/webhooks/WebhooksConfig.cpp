// Webhooks configuration schema and parsing (see WebhooksConfig.h).
#include "WebhooksConfig.h"

#include <Poco/Exception.h>

#include "switchboard/EventBus.h"

namespace switchboard::webhooks {

void WebhooksConfig::declare(ConfigSchema& schema) {
    schema
        .integer("queue_size", 1000, 1, 1000000,
                 "Deliveries waiting (new, or between retries) for all hooks together; beyond, "
                 "new events are dropped and counted (switchboard_webhooks_dropped_total)")
        .integer("threads", 2, 1, 64,
                 "Delivery threads: attempts under way at once (a receiver that hangs holds one "
                 "for at most its timeout)")
        .integer("history", 100, 1, 100000, "Recent deliveries kept for GET /admin/api/webhooks");
    ConfigSchema& hook = schema.sectionMap("hooks", "Receivers by name");
    hook.string("url", "", "http:// or https:// URL each matching event is POSTed to")
        .required()
        .stringList("topics", "Bus topic patterns: exact (device.online), prefix (peer.*) or *")
        .string("secret", "",
                "HMAC-SHA256 key of the X-Switchboard-Signature header (at least 16 "
                "characters; use ${ENV_VAR})")
        .required()
        .duration("timeout", "5s", "Connect, send and receive timeout of one attempt")
        .atLeast("1ms")
        .duration("retry_for", "60s",
                  "How long a failing delivery is retried after its first attempt (0: once)")
        .duration("backoff", "1s", "Wait before the first retry; doubled after each")
        .atLeast("1ms")
        .duration("max_backoff", "30s", "Longest wait between retries")
        .atLeast("1ms")
        .string("ca_file", "", "https: PEM CA file to verify the receiver (default: the system's)");
}

WebhooksConfig WebhooksConfig::parse(const ConfigSection& section) {
    WebhooksConfig c;
    c.queueSize = static_cast<std::size_t>(section.getInt("queue_size"));
    c.threads = static_cast<std::size_t>(section.getInt("threads"));
    c.history = static_cast<std::size_t>(section.getInt("history"));
    std::vector<ConfigError> errors;
    for (const auto& name : section.sectionNames("hooks")) {
        ConfigSection s = section.section("hooks." + name);
        auto h = std::make_shared<HookConfig>();
        h->name = name;
        std::string url = s.getString("url");
        try {
            h->url = Poco::URI(url);
        } catch (const Poco::Exception&) {
            errors.push_back(s.error("url", "not a URL: " + url));
            continue;
        }
        if ((h->url.getScheme() != "http" && h->url.getScheme() != "https") ||
            h->url.getHost().empty()) {
            errors.push_back(
                s.error("url", "expected an http:// or https:// URL with a host, got " + url));
        }
        h->displayUrl = h->url.getScheme() + "://" + h->url.getHost() + ":" +
                        std::to_string(h->url.getPort()) +
                        (h->url.getPath().empty() ? "/" : h->url.getPath());
        h->topics = s.getStringList("topics");
        if (h->topics.empty()) {
            errors.push_back(s.error("topics", "at least one topic pattern is required"));
        }
        for (const auto& t : h->topics) {
            bool valid = !t.empty() && (t == "*" || t.find('*') == std::string::npos ||
                                        (t.size() > 2 && t.compare(t.size() - 2, 2, ".*") == 0 &&
                                         t.find('*') == t.size() - 1));
            if (!valid) {
                errors.push_back(
                    s.error("topics", "'" + t + "' is not a topic pattern (exact, prefix.* or *)"));
            } else if (internalTopic(t)) {
                errors.push_back(s.error("topics", "'" + t + "': internal topics are not sent"));
            }
        }
        h->secret = s.getString("secret");
        if (h->secret.size() < 16) {
            errors.push_back(s.error("secret", "must be at least 16 characters"));
        }
        h->timeout = s.getDuration("timeout");
        h->retryFor = s.getDuration("retry_for");
        h->backoff = s.getDuration("backoff");
        h->maxBackoff = s.getDuration("max_backoff");
        h->caFile = s.getString("ca_file");
        c.hooks.push_back(std::move(h));
    }
    if (!errors.empty()) {
        throw ConfigError(errors);
    }
    return c;
}

}  // namespace switchboard::webhooks
