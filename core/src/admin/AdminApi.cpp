// Admin API (see AdminApi.h).
#include "admin/AdminApi.h"

#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>

#include "loader/PluginManager.h"
#include "services/MetricsRegistry.h"
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

std::string pluginsJson(const std::vector<PluginInfo>& plugins) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("plugins");
    w.StartArray();
    for (const auto& p : plugins) {
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
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buffer.GetString();
}

}  // namespace

AdminApi::AdminApi(PluginManager& plugins, MetricsRegistry& metrics,
                   std::function<std::vector<std::string>()> reload)
    : _plugins(plugins),
      _metrics(metrics),
      _reload(std::move(reload)),
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
        resp.error(401, "invalid admin token");
        return;
    }
    access->limiter->forgive(address);
    std::chrono::milliseconds ttl = access->settings.sessionTtl;
    std::string cookie =
        std::string(kCookieName) + "=" + _sessions.create(ttl) +
        "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ttl).count());
    if (req.secure()) {
        cookie += "; Secure";
    }
    resp.addHeader("Set-Cookie", cookie);
    resp.setHeader("Cache-Control", "no-store");
    resp.json(200,
              "{\"session\":true,\"expires_in\":" +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ttl).count()) +
                  "}");
}

void AdminApi::logout(const HttpRequest& req, HttpResponse& resp) {
    std::string cookie = req.cookie(kCookieName);
    if (!cookie.empty()) {
        _sessions.end(cookie);
    }
    resp.addHeader("Set-Cookie",
                   std::string(kCookieName) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    resp.json(200, "{\"session\":false}");
}

std::vector<Route> AdminApi::routes() {
    std::vector<Route> routes;
    routes.push_back(
        {"GET", "/admin/api/plugins", guard([this](const HttpRequest&, HttpResponse& resp) {
             resp.json(200, pluginsJson(_plugins.list()));
         })});
    routes.push_back(
        {"POST", "/admin/api/reload", guard([this](const HttpRequest&, HttpResponse& resp) {
             std::vector<std::string> problems = _reload();
             if (problems.empty()) {
                 resp.json(200, "{\"reloaded\":true}");
                 return;
             }
             std::string body =
                 "{\"error\":\"config rejected; the running "
                 "configuration stays\",\"problems\":[";
             for (std::size_t i = 0; i < problems.size(); ++i) {
                 body += (i ? "," : "") + json::quote(problems[i]);
             }
             resp.json(400, body + "]}");
         })});
    routes.push_back(
        {"GET", "/admin/api/events",
         guard([this](const HttpRequest& req, HttpResponse& resp) { events(req, resp); })});
    routes.push_back({"POST", "/admin/api/session",
                      [this](const HttpRequest& req, HttpResponse& resp) { login(req, resp); }});
    routes.push_back(
        {"DELETE", "/admin/api/session",
         guard([this](const HttpRequest& req, HttpResponse& resp) { logout(req, resp); })});
    routes.push_back({"GET", "/metrics", guard([this](const HttpRequest&, HttpResponse& resp) {
                          resp.setStatus(200);
                          resp.setBody(_metrics.render(), "text/plain; version=0.0.4");
                      })});
    for (const auto& route : _extraRoutes) {
        routes.push_back({route.method, route.path, guard(route.handler), route.nonBlocking});
    }
    return routes;
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
    auto queue = std::make_shared<Subscriber>();
    {
        std::lock_guard<std::mutex> lock(_subscribersMutex);
        _subscribers.insert(queue);
    }
    std::string pattern = request.query("topic", "*");
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
