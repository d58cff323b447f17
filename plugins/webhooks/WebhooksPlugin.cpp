// Webhooks plugin lifecycle (see WebhooksPlugin.h).
#include "WebhooksPlugin.h"

#include <Poco/Logger.h>
#include <Poco/NumberParser.h>

namespace switchboard::webhooks {

void WebhooksPlugin::declareConfig(ConfigSchema& schema) const {
    WebhooksConfig::declare(schema);
}

void WebhooksPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const WebhooksConfig>(WebhooksConfig::parse(config));
}

void WebhooksPlugin::start(HostContext& context) {
    _dispatcher = std::make_unique<WebhookDispatcher>(_config->queueSize, _config->threads,
                                                      _config->history, context.logger());
    Metrics& m = context.metrics();
    for (const auto& hook : _config->hooks) {
        std::string label = "hook=\"" + hook->name + "\"";
        _dispatcher->setCounters(
            hook->name,
            HookCounters{
                &m.counter("delivered_total", "Events delivered (2xx)", label),
                &m.counter("failed_total", "Deliveries given up (4xx, or retry_for passed)", label),
                &m.counter("dropped_total", "Events dropped: the queue was full", label),
                &m.counter("retries_total", "Attempts repeated after a failure", label)});
    }
    m.gauge("queued", "Deliveries waiting (new or between retries)",
            [this] { return static_cast<double>(_dispatcher->queued()); });
    _dispatcher->start();
    // The bus thread only queues: a slow or hanging receiver never holds the bus.
    for (const auto& hook : _config->hooks) {
        for (const auto& pattern : hook->topics) {
            context.bus().subscribe(pattern, [this, hook](const Event& e) {
                _dispatcher->enqueue(hook, e.topic, e.payload, e.timeMs);
            });
        }
    }
    context.logger().information("%z webhook(s) configured", _config->hooks.size());
}

void WebhooksPlugin::stop() {
    // The host has ended the bus subscriptions (Plugin.h): nothing is queued any more.
    if (_dispatcher) {
        _dispatcher->stop();
    }
}

std::vector<Route> WebhooksPlugin::adminRoutes() {
    return {{"GET", "", [this](const HttpRequest& req, HttpResponse& resp) { list(req, resp); }}};
}

void WebhooksPlugin::list(const HttpRequest& req, HttpResponse& resp) {
    unsigned offset = 0;
    unsigned limit = 50;
    if (!Poco::NumberParser::tryParseUnsigned(req.query("offset", "0"), offset)) {
        resp.error(400, "offset must be a non-negative integer");
        return;
    }
    if (!Poco::NumberParser::tryParseUnsigned(req.query("limit", "50"), limit) || limit < 1 ||
        limit > 1000) {
        resp.error(400, "limit must be an integer from 1 to 1000");
        return;
    }
    resp.json(200, _dispatcher->describe(_config->hooks, offset, limit));
}

}  // namespace switchboard::webhooks

SWITCHBOARD_PLUGIN(switchboard::webhooks::WebhooksPlugin)
