// The admin listener's own routes: /admin/api/plugins, /admin/api/reload, /admin/api/events
// (Server-Sent Events of bus events) and /metrics, all behind the admin token.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/EventBus.h"
#include "switchboard/Http.h"

namespace switchboard {

class PluginManager;
class MetricsRegistry;

class AdminApi {
public:
    /// `reload` re-reads the config and returns its problems (empty when applied).
    AdminApi(PluginManager& plugins, MetricsRegistry& metrics,
             std::function<std::vector<std::string>()> reload);
    /// The bus the event stream reads (set once the host has opened it).
    void setBus(EventBus* bus) { _bus = bus; }

    /// Sets the token every admin request must present (Bearer, or cookie switchboard_admin).
    void setToken(std::string token);
    /// Wraps a handler with the token check (401 {"error": "admin token required"}).
    HttpHandler guard(HttpHandler handler) const;
    /// The host's admin routes, already guarded.
    std::vector<Route> routes();
    /// Ends open event streams (shutdown).
    void stop() { _stopping = true; }

private:
    bool authorized(const HttpRequest& request) const;
    void events(const HttpRequest& request, HttpResponse& response);

    PluginManager& _plugins;
    MetricsRegistry& _metrics;
    std::atomic<EventBus*> _bus{nullptr};
    std::function<std::vector<std::string>()> _reload;
    std::shared_ptr<const std::string> _token;
    std::atomic<bool> _stopping{false};
};

/// Reads the admin token (the first line) from `file`, or creates it as a SecretFile (32
/// random bytes, hex, mode 0600 from creation). Returns the token and sets `created`. Throws
/// std::runtime_error naming the file when it cannot be read or holds no token.
std::string loadOrCreateSecret(const std::string& file, bool& created);

}  // namespace switchboard
