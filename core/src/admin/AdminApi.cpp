// Admin API (see AdminApi.h).
#include "admin/AdminApi.h"

#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>

#include <Poco/Logger.h>

#include "admin/AuditLog.h"
#include "admin/Console.h"
#include "loader/PluginManager.h"
#include "services/MetricsRegistry.h"
#include "services/RouteHistory.h"
#include "switchboard/Json.h"
#include "switchboard/SecretFile.h"

namespace switchboard {

namespace {

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
bool sameSecret(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
}

void writePlugin(json::Writer& w, const PluginInfo& p,
                 const std::map<std::string, bool>& overrides) {
    w.StartObject();
    w.Key("name");
    w.String(p.name.c_str());
    w.Key("state");
    w.String(stateName(p.state));
    w.Key("required");
    w.Bool(p.required);
    w.Key("listener");
    w.String(p.listener.c_str());
    w.Key("error");
    w.String(p.error.c_str());
    w.Key("dependencies");
    w.StartArray();
    for (const auto& d : p.dependencies) {
        w.String(d.c_str());
    }
    w.EndArray();
    w.Key("library");
    w.String(p.library.c_str());
    w.Key("override");
    auto overridden = overrides.find(p.name);
    if (overridden == overrides.end()) {
        w.Null();
    } else {
        w.String(overridden->second ? "enabled" : "disabled");
    }
    w.EndObject();
}

std::string pluginsJson(const std::vector<PluginInfo>& plugins,
                        const std::map<std::string, bool>& overrides) {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    w.Key("plugins");
    w.StartArray();
    for (const auto& p : plugins) {
        writePlugin(w, p, overrides);
    }
    w.EndArray();
    w.EndObject();
    return buffer.GetString();
}

Schema pluginSchema() {
    return Schema::object({{"name", Schema::string()},
                           {"state", Schema::string().oneOf({"disabled", "configured", "running",
                                                             "failed", "stopped"})},
                           {"required", Schema::boolean()},
                           {"listener", Schema::string()},
                           {"error", Schema::string("why it failed, or empty")},
                           {"dependencies", Schema::array(Schema::string())},
                           {"library", Schema::string("the shared library it was loaded from")},
                           {"override", Schema::string("\"enabled\" or \"disabled\" when set at "
                                                       "runtime (plugin-overrides.yaml)")
                                            .orNull()}});
}

/// `limit` (1..1000, default 100) and `offset` (>= 0, default 0) of an admin list; false (400
/// naming the parameter answered) when malformed.
bool pageParams(const HttpRequest& req, HttpResponse& resp, std::size_t& limit,
                std::size_t& offset) {
    auto number = [&](const char* name, std::uint64_t def, std::uint64_t min, std::uint64_t max,
                      std::size_t& out) {
        std::string text = req.query(name);
        std::uint64_t value = def;
        if (!text.empty() &&
            (text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos ||
             (value = std::stoull(text)) < min || value > max)) {
            resp.error(400, std::string(name) + " must be an integer between " +
                                std::to_string(min) + " and " + std::to_string(max));
            return false;
        }
        out = static_cast<std::size_t>(value);
        return true;
    };
    return number("limit", 100, 1, 1000, limit) && number("offset", 0, 0, 1000000000, offset);
}

std::string problemsJson(const std::vector<std::string>& problems) {
    std::string body = "[";
    for (std::size_t i = 0; i < problems.size(); ++i) {
        body += (i ? "," : "") + json::quote(problems[i]);
    }
    return body + "]";
}

}  // namespace

void AdminApi::documentGuard(RouteDoc& doc) {
    doc.error(400, "no Host header")
        .error(401, "no valid admin token or console cookie")
        .error(403, "a change made with the console cookie without the console's Origin")
        .error(421, "a Host this listener does not serve (admin.allowed_hosts)")
        .error(429, "too many failed token attempts from this address; see Retry-After")
        .auth({"adminToken",
               "{\"type\":\"http\",\"scheme\":\"bearer\",\"description\":"
               "\"the admin token (admin.token_file)\"}"})
        .auth({"adminCookie", std::string("{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"") +
                                  kCookieName +
                                  "\",\"description\":\"the console session (POST "
                                  "/admin/api/session)\"}"});
}

AdminApi::AdminApi(PluginManager& plugins, MetricsRegistry& metrics, AdminHooks hooks)
    : _plugins(plugins),
      _metrics(metrics),
      _hooks(std::move(hooks)),
      _token(std::make_shared<const std::string>()) {
    configure({std::make_shared<const AdminHosts>("", 0, std::vector<std::string>{})});
}

void AdminApi::setToken(std::string token) {
    auto next = std::make_shared<const std::string>(std::move(token));
    std::shared_ptr<const std::string> previous = std::atomic_exchange(&_token, next);
    if (*previous != *next) {
        _sessions.clear();  // sessions were opened with the old token
    }
}

void AdminApi::configure(const AdminSettings& settings) {
    auto access = std::make_shared<Access>();
    access->settings = settings;
    std::shared_ptr<const Access> previous = std::atomic_load(&_access);
    if (previous && previous->settings.failuresPerAddress == settings.failuresPerAddress &&
        previous->settings.failureWindow == settings.failureWindow) {
        access->limiter = previous->limiter;
    } else {
        // Per client address only: no total, so no one can lock everybody out.
        access->limiter =
            std::make_shared<RateLimiter>(settings.failuresPerAddress, 0, settings.failureWindow);
    }
    std::atomic_store(&_access, std::shared_ptr<const Access>(std::move(access)));
}

bool AdminApi::hostAllowed(const Access& access, const HttpRequest& req, HttpResponse& resp) const {
    std::string host = req.header("Host");
    if (host.empty()) {
        resp.error(400, "Host header required");
        return false;
    }
    if (!access.settings.hosts->allows(host)) {
        // A name this listener was not configured for: most likely DNS rebinding.
        resp.error(421, "unknown Host for the admin listener; add the name to admin.allowed_hosts");
        return false;
    }
    return true;
}

AdminApi::Credential AdminApi::authenticate(const Access& access, const HttpRequest& req,
                                            HttpResponse& resp) const {
    std::string bearer = req.bearerToken();
    std::string cookie = req.cookie(kCookieName);
    if (bearer.empty() && cookie.empty()) {
        resp.setHeader("WWW-Authenticate", "Bearer realm=\"switchboard-admin\"");
        resp.error(401, "admin token required");
        return Credential::None;
    }
    // Counted before the comparison, so concurrent guesses cannot all pass one check.
    std::string address = req.clientAddress();
    if (std::int64_t wait = access.limiter->attempt(address)) {
        resp.setHeader("Retry-After", std::to_string(wait));
        resp.error(429, "too many failed admin token attempts; retry later");
        return Credential::None;
    }
    std::shared_ptr<const std::string> token = std::atomic_load(&_token);
    Credential found = Credential::None;
    if (!bearer.empty()) {
        found =
            !token->empty() && sameSecret(bearer, *token) ? Credential::Bearer : Credential::None;
    } else if (_sessions.valid(cookie)) {
        found = Credential::Cookie;
    }
    if (found == Credential::None) {
        // An expired console cookie is routine; a wrong bearer token is someone trying one.
        if (!bearer.empty()) {
            failedAttempt(access, address, "bearer");
        }
        resp.setHeader("WWW-Authenticate", "Bearer realm=\"switchboard-admin\"");
        resp.error(401, "admin token required");
        return found;
    }
    access.limiter->forgive(address);
    return found;
}

HttpHandler AdminApi::guard(HttpHandler handler) const {
    return [this, handler = std::move(handler)](const HttpRequest& req, HttpResponse& resp) {
        std::shared_ptr<const Access> access = std::atomic_load(&_access);
        if (!hostAllowed(*access, req, resp)) {
            return;
        }
        Credential credential = authenticate(*access, req, resp);
        if (credential == Credential::None) {
            return;
        }
        const std::string& method = req.method();
        bool changes = method != "GET" && method != "HEAD" && method != "OPTIONS";
        // A cookie goes along with any request the browser makes, whoever's page asked for it;
        // a bearer header only with requests a page of this origin made itself.
        if (credential == Credential::Cookie && changes &&
            !access->settings.hosts->allowsOrigin(req.header("Origin"))) {
            resp.error(403, "a change made with the admin cookie needs the console's Origin");
            return;
        }
        // The Origin check alone trusts every browser to send one; a token only the console's
        // own page can read (from the login answer) does not.
        if (credential == Credential::Cookie && changes &&
            !sameSecret(req.header(kCsrfHeader), _sessions.csrfToken(req.cookie(kCookieName)))) {
            resp.error(403,
                       "a change made with the admin cookie needs the X-CSRF-Token header from "
                       "the console login");
            return;
        }
        handler(req, resp);
    };
}

void AdminApi::login(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<const Access> access = std::atomic_load(&_access);
    if (!hostAllowed(*access, req, resp)) {
        return;
    }
    std::string origin = req.header("Origin");
    if (!origin.empty() && !access->settings.hosts->allowsOrigin(origin)) {
        resp.error(403, "a console login must come from the console's Origin");
        return;
    }
    rapidjson::Document body;
    std::string error;
    std::string offered;
    if (!json::parseBody(req, body, error) || !json::requireString(body, "token", offered, error)) {
        resp.error(400, error);
        return;
    }
    std::string address = req.clientAddress();
    if (std::int64_t wait = access->limiter->attempt(address)) {
        resp.setHeader("Retry-After", std::to_string(wait));
        resp.error(429, "too many failed admin token attempts; retry later");
        return;
    }
    std::shared_ptr<const std::string> token = std::atomic_load(&_token);
    if (token->empty() || !sameSecret(offered, *token)) {
        failedAttempt(*access, address, "console");
        resp.error(401, "invalid admin token");
        return;
    }
    access->limiter->forgive(address);
    audit("admin", address, "admin.login", "{}");
    std::chrono::milliseconds ttl = access->settings.sessionTtl;
    std::string id = _sessions.create(ttl);
    std::string cookie =
        std::string(kCookieName) + "=" + id + "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ttl).count());
    if (req.secure()) {
        cookie += "; Secure";
    }
    resp.addHeader("Set-Cookie", cookie);
    resp.setHeader("Cache-Control", "no-store");
    resp.json(200,
              "{\"session\":true,\"expires_in\":" +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ttl).count()) +
                  ",\"csrf\":" + json::quote(_sessions.csrfToken(id)) + "}");
}

void AdminApi::session(const HttpRequest& req, HttpResponse& resp) {
    resp.setHeader("Cache-Control", "no-store");
    // Behind the guard: a cookie here is a live session unless a bearer header came instead.
    std::string cookie = req.cookie(kCookieName);
    if (!req.bearerToken().empty() || cookie.empty()) {
        resp.json(200, "{\"session\":false,\"csrf\":null}");
        return;
    }
    resp.json(200, "{\"session\":true,\"csrf\":" + json::quote(_sessions.csrfToken(cookie)) + "}");
}

void AdminApi::logout(const HttpRequest& req, HttpResponse& resp) {
    std::string cookie = req.cookie(kCookieName);
    if (!cookie.empty()) {
        _sessions.end(cookie);
        audit("admin", req.clientAddress(), "admin.logout", "{}");
    }
    resp.addHeader("Set-Cookie",
                   std::string(kCookieName) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    resp.json(200, "{\"session\":false}");
}

std::vector<Route> AdminApi::routes() {
    auto guarded = [](RouteDoc doc) {
        documentGuard(doc);
        return doc;
    };
    std::vector<Route> routes;
    routes.push_back(
        {"GET", "/admin/api/plugins", guard([this](const HttpRequest&, HttpResponse& resp) {
             resp.json(200, pluginsJson(_plugins.list(), _hooks.overrides()));
         }),
         false,
         guarded(RouteDoc("Every configured plugin with its state, listener, error and runtime "
                          "override")
                     .answer(200, "the plugins",
                             Schema::object({{"plugins", Schema::array(pluginSchema())}})))});
    auto toggleDoc = [&](const std::string& summary) {
        return guarded(
            RouteDoc(summary)
                .answer(200, "applied (problems lists what the loader reported)",
                        Schema::object({{"plugin", pluginSchema()},
                                        {"problems", Schema::array(Schema::string())}}))
                .error(404, "no plugin named so")
                .error(409, "the loader would reject the change (e.g. a dependency not enabled)",
                       Schema::object({{"error", Schema::string()},
                                       {"problems", Schema::array(Schema::string())}})));
    };
    routes.push_back({"POST", "/admin/api/plugins/{name}/enable",
                      guard([this](const HttpRequest& req, HttpResponse& resp) {
                          setOverride(req, resp, true);
                      }),
                      false,
                      toggleDoc("Enables a plugin at runtime (kept in plugin-overrides.yaml "
                                "across restarts)")});
    routes.push_back({"POST", "/admin/api/plugins/{name}/disable",
                      guard([this](const HttpRequest& req, HttpResponse& resp) {
                          setOverride(req, resp, false);
                      }),
                      false,
                      toggleDoc("Disables a plugin at runtime (kept in plugin-overrides.yaml "
                                "across restarts)")});
    routes.push_back({"DELETE", "/admin/api/plugins/{name}/override",
                      guard([this](const HttpRequest& req, HttpResponse& resp) {
                          setOverride(req, resp, std::nullopt);
                      }),
                      false,
                      toggleDoc("Drops a plugin's runtime override: the YAML decides again")});
    routes.push_back(
        {"POST", "/admin/api/reload", guard([this](const HttpRequest& req, HttpResponse& resp) {
             std::vector<std::string> problems = _hooks.reload(req.clientAddress());
             if (problems.empty()) {
                 resp.json(200, "{\"reloaded\":true}");
                 return;
             }
             resp.json(400,
                       "{\"error\":\"config rejected; the running configuration stays\","
                       "\"problems\":" +
                           problemsJson(problems) + "}");
         }),
         false,
         guarded(RouteDoc("Re-reads the config file and applies it")
                     .answer(200, "applied", Schema::object({{"reloaded", Schema::boolean()}}))
                     .error(400, "the config was rejected; the running configuration stays",
                            Schema::object({{"error", Schema::string()},
                                            {"problems", Schema::array(Schema::string(
                                                             "file:line: key: problem"))}})))});
    routes.push_back(
        {"GET", "/admin/api/events",
         guard([this](const HttpRequest& req, HttpResponse& resp) { events(req, resp); }), false,
         guarded(
             RouteDoc("Bus events as Server-Sent Events")
                 .describe("Each event is `event: <topic>` and `data: <JSON payload>`; a "
                           "comment line every 15 s keeps proxies from closing the stream.")
                 .param("topic", "topic pattern, e.g. `device.*` (default `*`)", Schema::string())
                 .answerOfType(200, "the event stream", "text/event-stream")
                 .error(400, "the topic is an internal one (`internal.*`)")
                 .error(503, "the event bus is not running"))});
    Schema auditEntry = Schema::object({{"id", Schema::integer()},
                                        {"time", Schema::time()},
                                        {"actor", Schema::string("admin, user:<id>, device:<key>, "
                                                                 "anonymous")},
                                        {"address", Schema::string()},
                                        {"action", Schema::string("e.g. admin.login_failed")},
                                        {"detail", Schema::anyObject()}});
    routes.push_back(
        {"GET", "/admin/api/audit",
         guard([this](const HttpRequest& req, HttpResponse& resp) { auditPage(req, resp); }), false,
         guarded(RouteDoc("The audit log, newest first, a page at a time")
                     .param("action", "only entries of this action", Schema::string())
                     .paged(auditEntry)
                     .error(503, "the audit log is not open, or cannot be read (Retry-After)"))});
    routes.push_back(
        {"POST", "/admin/api/session",
         [this](const HttpRequest& req, HttpResponse& resp) { login(req, resp); }, false,
         RouteDoc("Console login: trades the admin token for a session cookie")
             .body(Schema::object({{"token", Schema::string("the admin token")}}))
             .answer(200, "logged in; Set-Cookie holds the HttpOnly, SameSite=Strict session",
                     Schema::object({{"session", Schema::boolean()},
                                     {"expires_in", Schema::integer("seconds")}}))
             .error(400, "no Host header, or the body is not {\"token\": \"...\"}")
             .error(401, "invalid admin token")
             .error(403, "an Origin other than the console's")
             .error(421, "a Host this listener does not serve (admin.allowed_hosts)")
             .error(429, "too many failed token attempts from this address; see Retry-After")});
    routes.push_back(
        {"DELETE", "/admin/api/session",
         guard([this](const HttpRequest& req, HttpResponse& resp) { logout(req, resp); }), false,
         guarded(RouteDoc("Console logout: ends the cookie's session")
                     .answer(200, "logged out; the cookie is cleared",
                             Schema::object({{"session", Schema::boolean()}})))});
    routes.push_back(
        {"GET", "/admin/api/session",
         guard([this](const HttpRequest& req, HttpResponse& resp) { session(req, resp); }), false,
         guarded(RouteDoc("The console session's CSRF token (after a page reload)")
                     .answer(200, "the session",
                             Schema::object({{"session", Schema::boolean()},
                                             {"csrf", Schema::string("send as X-CSRF-Token")}})))});
    routes.push_back(
        {"GET", "/admin/api/views", guard([this](const HttpRequest&, HttpResponse& resp) {
             std::vector<std::pair<std::string, std::vector<AdminView>>> views;
             _plugins.forEachRunning([&](const PluginSlot& slot) {
                 if (!slot.adminViews.empty()) {
                     views.emplace_back(slot.name, slot.adminViews);
                 }
             });
             resp.json(200, adminViewsJson(views));
         }),
         false,
         guarded(RouteDoc("The console views the running plugins describe (docs/console.md)")
                     .answer(200, "the views by plugin", Schema::anyObject()))});
    routes.push_back(
        {"GET", "/admin/api/metrics/history", guard([this](const HttpRequest&, HttpResponse& resp) {
             const RouteHistory* history = _history.load();
             if (history == nullptr) {
                 resp.error(503, "the request history is not running");
                 return;
             }
             resp.json(200, history->json());
         }),
         false,
         guarded(RouteDoc("Requests and p99 per route, sampled every admin.history_interval over "
                          "admin.history_window")
                     .answer(200, "the samples", Schema::anyObject())
                     .error(503, "the request history is not running"))});
    // The console's files are no secret (the data is behind the token), but they answer only
    // the listener's own names, like everything on it.
    HttpHandler console = [this](const HttpRequest& req, HttpResponse& resp) {
        std::shared_ptr<const Access> access = std::atomic_load(&_access);
        if (hostAllowed(*access, req, resp)) {
            serveConsoleAsset(req.path(), resp);
        }
    };
    routes.push_back({"GET", "/", console, false,
                      RouteDoc("The admin web console (one page; log in with the admin token)")
                          .answerOfType(200, "the page", "text/html")
                          .error(421, "a Host this listener does not serve")});
    routes.push_back({"GET", "/console/{file}", console, false,
                      RouteDoc("The console's script and style sheet")
                          .answerOfType(200, "the file", "text/javascript")
                          .error(404, "no such file")
                          .error(421, "a Host this listener does not serve")});
    routes.push_back({"GET", "/metrics", guard([this](const HttpRequest&, HttpResponse& resp) {
                          resp.setStatus(200);
                          resp.setBody(_metrics.render(), "text/plain; version=0.0.4");
                      }),
                      false,
                      guarded(RouteDoc("Metrics in the Prometheus text format")
                                  .answerOfType(200, "the metrics", "text/plain"))});
    for (const auto& route : _extraRoutes) {
        routes.push_back({route.method, route.path, guard(route.handler), route.nonBlocking,
                          guarded(route.doc)});
    }
    return routes;
}

void AdminApi::setOverride(const HttpRequest& req, HttpResponse& resp,
                           std::optional<bool> enabled) {
    std::string name = req.param("name");
    OverrideOutcome outcome = _hooks.setOverride(name, enabled, req.clientAddress());
    if (outcome.status != 200) {
        resp.json(outcome.status, "{\"error\":" + json::quote(outcome.error) +
                                      ",\"problems\":" + problemsJson(outcome.problems) + "}");
        return;
    }
    std::map<std::string, bool> overrides = _hooks.overrides();
    for (const auto& p : _plugins.list()) {
        if (p.name == name) {
            rapidjson::StringBuffer buffer;
            json::Writer w(buffer);
            writePlugin(w, p, overrides);
            resp.json(200, "{\"plugin\":" + std::string(buffer.GetString()) +
                               ",\"problems\":" + problemsJson(outcome.problems) + "}");
            return;
        }
    }
    resp.error(404, "no plugin named '" + name + "'");
}

void AdminApi::audit(const std::string& actor, const std::string& address,
                     const std::string& action, const std::string& detail) const {
    if (AuditLog* log = _audit.load()) {
        log->record(actor, address, action, detail);
    }
}

void AdminApi::failedAttempt(const Access& access, const std::string& address,
                             const std::string& credential) const {
    std::string detail = "{\"credential\":" + json::quote(credential) + "}";
    audit("anonymous", address, "admin.login_failed", detail);
    // The attempt was counted before the comparison: a wait now means this one filled the
    // window, so the limiter refuses the address from here on.
    if (std::int64_t wait = access.limiter->retryAfter(address)) {
        audit("anonymous", address, "admin.login_limited",
              "{\"retry_after\":" + std::to_string(wait) + "}");
    }
}

void AdminApi::auditPage(const HttpRequest& req, HttpResponse& resp) {
    std::size_t limit = 0, offset = 0;
    if (!pageParams(req, resp, limit, offset)) {
        return;
    }
    AuditLog* log = _audit.load();
    if (log == nullptr) {
        resp.error(503, "the audit log is not open");
        return;
    }
    std::string action = req.query("action");
    if (action.size() > 200) {
        resp.error(400, "action must be at most 200 characters");
        return;
    }
    try {
        resp.json(200, log->page(limit, offset, action));
    } catch (const std::exception& e) {
        Poco::Logger::get("switchboard.audit").error("listing failed: %s", std::string(e.what()));
        resp.storeUnavailable("cannot read the audit log");
    }
}

void AdminApi::stop() {
    _stopping = true;
    std::lock_guard<std::mutex> lock(_subscribersMutex);
    for (const auto& subscriber : _subscribers) {
        std::lock_guard<std::mutex> wake(subscriber->mutex);
        subscriber->ready.notify_all();
    }
}

void AdminApi::events(const HttpRequest& request, HttpResponse& response) {
    EventBus* bus = _bus.load();
    if (bus == nullptr) {
        response.error(503, "event bus not running");
        return;
    }
    std::string pattern = request.query("topic", "*");
    if (internalTopic(pattern)) {
        response.error(400, "topic: internal topics are not streamed");
        return;
    }
    auto queue = std::make_shared<Subscriber>();
    {
        std::lock_guard<std::mutex> lock(_subscribersMutex);
        _subscribers.insert(queue);
    }
    std::uint64_t id = bus->subscribe(pattern, [queue](const Event& event) {
        std::lock_guard<std::mutex> lock(queue->mutex);
        if (queue->events.size() >= 1000) {
            ++queue->dropped;  // a slow reader loses events, never stalls the bus
            return;
        }
        queue->events.push_back(event);
        queue->ready.notify_one();
    });
    response.setStatus(200);
    response.setHeader("Cache-Control", "no-cache");
    std::ostream& out = response.stream("text/event-stream");
    out << ": connected\n\n" << std::flush;
    auto lastWrite = std::chrono::steady_clock::now();
    while (!_stopping && out.good()) {
        std::deque<Event> batch;
        {
            std::unique_lock<std::mutex> lock(queue->mutex);
            queue->ready.wait_for(lock, std::chrono::milliseconds(500),
                                  [&] { return !queue->events.empty() || _stopping; });
            batch.swap(queue->events);
        }
        for (const auto& event : batch) {
            out << "event: " << event.topic << "\ndata: " << event.payload << "\n\n";
        }
        auto now = std::chrono::steady_clock::now();
        if (batch.empty() && now - lastWrite > std::chrono::seconds(15)) {
            out << ": keep-alive\n\n";  // for proxies that close quiet connections
            lastWrite = now;
        }
        if (!batch.empty()) {
            lastWrite = now;
        }
        // Every round, written or not: a flush fails once the client has gone, so a closed
        // stream gives its handler thread back within a round, not at the next keep-alive
        // (15 s, or until shutdown_timeout at stop).
        out.flush();
    }
    bus->unsubscribe(id);
    std::lock_guard<std::mutex> lock(_subscribersMutex);
    _subscribers.erase(queue);
}

std::string loadOrCreateSecret(const std::string& file, bool& created) {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium failed to initialise");
    }
    std::string text = SecretFile::readOrCreate(
        file,
        [] {
            unsigned char bytes[32];
            randombytes_buf(bytes, sizeof bytes);
            char hex[2 * sizeof bytes + 1];
            sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
            sodium_memzero(bytes, sizeof bytes);
            return std::string(hex) + "\n";
        },
        created);
    std::string token = text.substr(0, text.find('\n'));
    if (token.empty()) {
        throw std::runtime_error(file + " holds no token; delete it to generate a new one");
    }
    return token;
}

}  // namespace switchboard
