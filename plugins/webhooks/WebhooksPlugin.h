// The webhooks plugin: bus events whose topic matches a hook's patterns are POSTed to its URL
// as signed JSON (X-Switchboard-Signature: sha256=<HMAC of the body>), retried with backoff
// for a bounded time from a bounded queue, on delivery threads of its own. Lifecycle and
// wiring only; GET /admin/api/webhooks shows the hooks and the recent deliveries.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "WebhookDispatcher.h"
#include "WebhooksConfig.h"
#include "switchboard/Plugin.h"

namespace switchboard::webhooks {

class WebhooksPlugin : public Plugin {
public:
    void declareConfig(ConfigSchema& schema) const override;
    void configure(const ConfigSection& config) override;
    std::vector<Route> adminRoutes() override;
    void start(HostContext& context) override;
    void stop() override;

private:
    void list(const HttpRequest& req, HttpResponse& resp);

    std::shared_ptr<const WebhooksConfig> _config;
    std::unique_ptr<WebhookDispatcher> _dispatcher;
};

}  // namespace switchboard::webhooks
