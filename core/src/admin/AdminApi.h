// The admin listener's own routes: /admin/api/plugins, /admin/api/reload, /admin/api/events
// (Server-Sent Events of bus events), /admin/api/session (console login) and /metrics, and the
// guard in front of every admin route: Host check, throttled token attempts, cookie sessions
// and the Origin check of changes made with a cookie.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "admin/AdminHosts.h"
#include "admin/AdminSessions.h"
#include "switchboard/EventBus.h"
#include "switchboard/Http.h"
#include "switchboard/RateLimiter.h"

namespace switchboard {

class PluginManager;
class MetricsRegistry;

/// The admin section's access settings (admin.allowed_hosts, session_ttl, rate_limit).
struct AdminSettings {
    std::shared_ptr<const AdminHosts> hosts;
    std::chrono::milliseconds sessionTtl{12 * 3600 * 1000};
    std::uint64_t failuresPerAddress = 10;  ///< 0: no limit
    std::chrono::milliseconds failureWindow{60000};
};

class AdminApi {
public:
    /// `reload` re-reads the config and returns its problems (empty when applied).
    AdminApi(PluginManager& plugins, MetricsRegistry& metrics,
             std::function<std::vector<std::string>()> reload);
    /// The bus the event stream reads (set once the host has opened it).
    void setBus(EventBus* bus) { _bus = bus; }

    /// Sets the token every admin request must present as a Bearer header, or once to
    /// POST /admin/api/session for a session cookie. A new token ends every session.
    void setToken(std::string token);
    /// Applies the access settings (start and reload). The failure counts survive a reload
    /// that keeps the limit.
    void configure(const AdminSettings& settings);
    /// Wraps a handler with the guard: 400/421 for a missing or unknown Host; 401 {"error":
    /// "admin token required"} without a valid bearer token or session cookie; 429 with
    /// Retry-After while the client address has failed too often (counted before the
    /// comparison); 403 for a state-changing request authenticated by cookie whose Origin is
    /// missing or not one of the listener's names.
    HttpHandler guard(HttpHandler handler) const;
    /// The host's admin routes, already guarded.
    std::vector<Route> routes();
    /// More host routes (e.g. /admin/api/log-levels), guarded like the others; before the
    /// first routes().
    void addRoutes(std::vector<Route> routes) {
        for (auto& r : routes) {
            _extraRoutes.push_back(std::move(r));
        }
    }
    /// Ends open event streams at once (shutdown).
    void stop();

    static constexpr const char* kCookieName = "switchboard_admin";

private:
    /// One open /admin/api/events stream: the events waiting for its handler.
    struct Subscriber {
        std::mutex mutex;
        std::condition_variable ready;
        std::deque<Event> events;
        std::size_t dropped = 0;
    };
    struct Access {
        AdminSettings settings;
        std::shared_ptr<RateLimiter> limiter;
    };
    enum class Credential { None, Bearer, Cookie };
    bool hostAllowed(const Access& access, const HttpRequest& req, HttpResponse& resp) const;
    /// Checks the request's credential, counting the attempt; answers 401/429 itself (None).
    Credential authenticate(const Access& access, const HttpRequest& req, HttpResponse& resp) const;
    void login(const HttpRequest& req, HttpResponse& resp);
    void logout(const HttpRequest& req, HttpResponse& resp);
    void events(const HttpRequest& request, HttpResponse& response);

    PluginManager& _plugins;
    MetricsRegistry& _metrics;
    std::atomic<EventBus*> _bus{nullptr};
    std::function<std::vector<std::string>()> _reload;
    std::shared_ptr<const std::string> _token;
    std::shared_ptr<const Access> _access;
    mutable AdminSessions _sessions;
    std::atomic<bool> _stopping{false};
    std::mutex _subscribersMutex;
    std::set<std::shared_ptr<Subscriber>> _subscribers;
    std::vector<Route> _extraRoutes;
};

/// Reads the admin token (the first line) from `file`, or creates it as a SecretFile (32
/// random bytes, hex, mode 0600 from creation). Returns the token and sets `created`. Throws
/// std::runtime_error naming the file when it cannot be read or holds no token.
std::string loadOrCreateSecret(const std::string& file, bool& created);

}  // namespace switchboard
