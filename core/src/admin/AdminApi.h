// The admin listener's own routes: the console (GET /, /console/*), /admin/api/plugins (with
// runtime enable/disable), /admin/api/reload, /admin/api/events (Server-Sent Events of bus
// events), /admin/api/audit, /admin/api/session (console login), /admin/api/views (the plugins'
// console views), /admin/api/metrics/history and /metrics, and the guard in front of every admin
// route: Host check, throttled token attempts, cookie sessions and the Origin and CSRF-token
// checks of changes made with a cookie.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
class AuditLog;

/// What a runtime enable/disable/reset did: 200 applied (`problems`: what went wrong after it
/// was applied, e.g. a plugin that failed to start), 404 no such plugin, 409 rejected (the
/// problems of the resulting configuration; nothing changed), 500/503 (see `error`).
struct OverrideOutcome {
    int status = 200;
    std::string error;
    std::vector<std::string> problems;
};

/// What the admin routes ask of the host.
struct AdminHooks {
    /// Re-reads the config and returns its problems (empty when applied).
    std::function<std::vector<std::string>(const std::string& address)> reload;
    /// Sets (true/false) or removes (nullopt) a plugin's runtime override, then reloads.
    std::function<OverrideOutcome(const std::string& name, std::optional<bool> enabled,
                                  const std::string& address)>
        setOverride;
    /// The runtime overrides in force.
    std::function<std::map<std::string, bool>()> overrides;
};
class RouteHistory;

/// The admin section's access settings (admin.allowed_hosts, session_ttl, rate_limit).
struct AdminSettings {
    std::shared_ptr<const AdminHosts> hosts;
    std::chrono::milliseconds sessionTtl{12 * 3600 * 1000};
    std::uint64_t failuresPerAddress = 10;  ///< 0: no limit
    std::chrono::milliseconds failureWindow{60000};
};

class AdminApi {
public:
    AdminApi(PluginManager& plugins, MetricsRegistry& metrics, AdminHooks hooks);
    /// The bus the event stream reads (set once the host has opened it).
    void setBus(EventBus* bus) { _bus = bus; }
    /// The audit log the guard and the routes record to and GET /admin/api/audit lists (set
    /// once the store is open; nullptr at stop).
    void setAudit(AuditLog* audit) { _audit = audit; }
    /// The per-route history /admin/api/metrics/history serves (set once at start).
    void setHistory(const RouteHistory* history) { _history = history; }

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
    /// missing or not one of the listener's names, or whose X-CSRF-Token header is not the
    /// session's (from the login). Bearer requests need neither.
    HttpHandler guard(HttpHandler handler) const;
    /// Adds what the guard answers to `doc` (400/421 Host, 401, 429, 403) and the admin
    /// credentials (bearer token or console cookie).
    static void documentGuard(RouteDoc& doc);
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
    static constexpr const char* kCsrfHeader = "X-CSRF-Token";

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
    /// GET /admin/api/session: whether the request came with a console session, and its CSRF
    /// token (the console reads it again after a page reload).
    void session(const HttpRequest& req, HttpResponse& resp);
    void events(const HttpRequest& request, HttpResponse& response);
    void auditPage(const HttpRequest& req, HttpResponse& resp);
    /// Records to the audit log, if there is one.
    void audit(const std::string& actor, const std::string& address, const std::string& action,
               const std::string& detail) const;
    /// After a failed token attempt from `address`: records it, and once the limiter starts
    /// refusing the address, that too (one entry per refusal, not per refused attempt).
    void failedAttempt(const Access& access, const std::string& address,
                       const std::string& credential) const;
    /// POST .../enable and .../disable (`enabled`), DELETE .../override (nullopt).
    void setOverride(const HttpRequest& req, HttpResponse& resp, std::optional<bool> enabled);

    PluginManager& _plugins;
    MetricsRegistry& _metrics;
    std::atomic<EventBus*> _bus{nullptr};
    std::atomic<AuditLog*> _audit{nullptr};
    AdminHooks _hooks;
    std::atomic<const RouteHistory*> _history{nullptr};
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
