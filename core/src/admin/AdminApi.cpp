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
      _token(std::make_shared<const std::string>()) {}

void AdminApi::setToken(std::string token) {
    std::atomic_store(&_token, std::make_shared<const std::string>(std::move(token)));
}

bool AdminApi::authorized(const HttpRequest& request) const {
    std::shared_ptr<const std::string> token = std::atomic_load(&_token);
    if (token->empty()) {
        return false;
    }
    std::string bearer = request.bearerToken();
    if (!bearer.empty() && sameSecret(bearer, *token)) {
        return true;
    }
    std::string cookie = request.cookie("switchboard_admin");
    return !cookie.empty() && sameSecret(cookie, *token);
}

HttpHandler AdminApi::guard(HttpHandler handler) const {
    return [this, handler = std::move(handler)](const HttpRequest& req, HttpResponse& resp) {
        if (!authorized(req)) {
            resp.setHeader("WWW-Authenticate", "Bearer realm=\"switchboard-admin\"");
            resp.error(401, "admin token required");
            return;
        }
        handler(req, resp);
    };
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
    routes.push_back({"GET", "/metrics", guard([this](const HttpRequest&, HttpResponse& resp) {
                          resp.setStatus(200);
                          resp.setBody(_metrics.render(), "text/plain; version=0.0.4");
                      })});
    return routes;
}

void AdminApi::events(const HttpRequest& request, HttpResponse& response) {
    struct Queue {
        std::mutex mutex;
        std::condition_variable ready;
        std::deque<Event> events;
        std::size_t dropped = 0;
    };
    EventBus* bus = _bus.load();
    if (bus == nullptr) {
        response.error(503, "event bus not running");
        return;
    }
    auto queue = std::make_shared<Queue>();
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
                                  [&] { return !queue->events.empty(); });
            batch.swap(queue->events);
        }
        for (const auto& event : batch) {
            out << "event: " << event.topic << "\ndata: " << event.payload << "\n\n";
        }
        auto now = std::chrono::steady_clock::now();
        if (batch.empty() && now - lastWrite > std::chrono::seconds(15)) {
            out << ": keep-alive\n\n";  // also detects a client that went away
        }
        if (!batch.empty() || now - lastWrite > std::chrono::seconds(15)) {
            out.flush();
            lastWrite = now;
        }
    }
    bus->unsubscribe(id);
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
