// Route assembly (see RouteAssembler.h).
#include "app/RouteAssembler.h"

#include <thread>

#include "admin/AdminApi.h"
#include "app/ApiDocs.h"
#include "app/OpenApi.h"
#include "loader/PluginManager.h"
#include "services/MetricsRegistry.h"

namespace switchboard {

namespace {

RouteEntry entry(const std::string& method, const std::string& path, const std::string& owner,
                 HttpHandler handler, std::shared_ptr<WebSocketHandler> webSocket = nullptr,
                 bool nonBlocking = false, RouteDoc doc = {}) {
    RouteEntry e;
    e.doc = std::move(doc);
    e.nonBlocking = nonBlocking;
    e.method = method;
    e.pattern = path;
    e.owner = owner;
    e.handler = std::move(handler);
    e.webSocket = std::move(webSocket);
    return e;
}

/// Wraps a plugin handler so the host knows when no request is inside it. The wrapper also
/// holds the plugin instance: a request that outlives a reload's wait still runs on a live
/// object.
HttpHandler counted(std::shared_ptr<std::atomic<int>> counter, std::shared_ptr<Plugin> plugin,
                    HttpHandler handler) {
    return [counter = std::move(counter), plugin = std::move(plugin), handler = std::move(handler)](
               const HttpRequest& req, HttpResponse& resp) {
        struct Guard {
            std::atomic<int>& n;
            explicit Guard(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
            ~Guard() { n.fetch_sub(1); }
        } guard(*counter);
        handler(req, resp);
    };
}

/// The stand-in for a route of a plugin that is stopping (a reload restarts or disables it).
HttpHandler restarting(const std::string& plugin) {
    return [message = "plugin " + plugin + " is restarting; retry shortly"](const HttpRequest&,
                                                                            HttpResponse& resp) {
        resp.setHeader("Retry-After", "1");
        resp.error(503, message);
    };
}

/// A plugin route's documentation with what the host adds: the 503 of a restarting plugin.
RouteDoc pluginDoc(RouteDoc doc) {
    doc.error(503, "the plugin is restarting (reload); retry after Retry-After");
    return doc;
}

/// The route serving a listener's OpenAPI document, filled in once its table is complete.
RouteEntry documentRoute(const std::string& path, const std::shared_ptr<std::string>& document,
                         const AdminApi* guard) {
    HttpHandler serve = [document](const HttpRequest&, HttpResponse& resp) {
        resp.setStatus(200);
        resp.setHeader("Cache-Control", "no-cache");
        resp.setBody(*document, "application/json");
    };
    RouteDoc doc("The OpenAPI 3.1 document of this listener's routes");
    doc.describe(
           "Generated from the route tables mounted now: a reload that enables or "
           "disables a plugin changes it.")
        .answer(200, "the document", Schema::anyObject("an OpenAPI 3.1 document"));
    if (guard != nullptr) {
        AdminApi::documentGuard(doc);
        return entry("GET", path, "host", guard->guard(std::move(serve)), nullptr, false,
                     std::move(doc));
    }
    return entry("GET", path, "host", std::move(serve), nullptr, true, std::move(doc));
}

}  // namespace

RouteAssembler::RouteAssembler(MetricsRegistry& metrics, AdminApi& admin,
                               std::vector<Route> hostRoutes)
    : _metrics(metrics), _admin(admin), _hostRoutes(std::move(hostRoutes)) {}

std::shared_ptr<std::atomic<int>> RouteAssembler::inflight(const std::string& plugin) {
    std::lock_guard<std::mutex> lock(_inflightMutex);
    auto& counter = _inflight[plugin];
    if (!counter) {
        counter = std::make_shared<std::atomic<int>>(0);
    }
    return counter;
}

int RouteAssembler::waitForRequests(const std::string& plugin,
                                    std::chrono::steady_clock::time_point deadline) {
    auto counter = inflight(plugin);
    while (counter->load() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return counter->load();
}

Mounts RouteAssembler::build(const std::string& file, const std::string& adminListener,
                             std::map<std::string, ListenerOptions>& listeners,
                             const PluginPlan& plan, std::vector<std::string>& errors,
                             const std::set<std::string>& exclude) {
    Mounts m;
    std::map<std::string, std::vector<RouteEntry>> entries;
    std::map<std::string, std::string> streamOwner;
    for (const auto& [name, options] : listeners) {
        for (const auto& route : _hostRoutes) {
            entries[name].push_back(entry(route.method, route.path, "host", route.handler, nullptr,
                                          route.nonBlocking, route.doc));
        }
    }
    if (listeners.count(adminListener)) {
        for (auto& route : _admin.routes()) {
            entries[adminListener].push_back(
                entry(route.method, route.path, "host", route.handler, nullptr, false, route.doc));
        }
    }
    PluginManager::forEachEnabled(plan, [&](const PluginSlot& slot) {
        // A plugin about to stop keeps its paths while it does, answering 503 with
        // Retry-After: a client retries instead of reading 404 as "not registered".
        bool leaving = exclude.count(slot.name) > 0;
        auto counter = inflight(slot.name);
        std::string where = file + ": plugins." + slot.name + ": ";
        bool mounts = !slot.routes.empty() || !slot.webSocketRoutes.empty() || slot.streamHandler;
        if (mounts && !listeners.count(slot.listener)) {
            if (slot.listener.empty()) {
                errors.push_back(where + "has routes but names no listener");
            }
            return;  // an unknown listener name was reported by the plugin manager
        }
        for (const auto& route : slot.routes) {
            if (leaving) {
                entries[slot.listener].push_back(entry(route.method, route.path, slot.name,
                                                       restarting(slot.name), nullptr, true,
                                                       pluginDoc(route.doc)));
            } else {
                entries[slot.listener].push_back(entry(route.method, route.path, slot.name,
                                                       counted(counter, slot.plugin, route.handler),
                                                       nullptr, route.nonBlocking,
                                                       pluginDoc(route.doc)));
            }
        }
        for (const auto& ws : slot.webSocketRoutes) {
            if (leaving) {
                entries[slot.listener].push_back(entry("GET", ws.path, slot.name,
                                                       restarting(slot.name), nullptr, true,
                                                       pluginDoc(ws.doc)));
            } else {
                entries[slot.listener].push_back(entry("GET", ws.path, slot.name, nullptr,
                                                       ws.handler, false, pluginDoc(ws.doc)));
            }
        }
        for (const auto& route : slot.adminRoutes) {
            std::string path = "/admin/api/" + slot.name + route.path;
            RouteDoc doc = pluginDoc(route.doc);
            AdminApi::documentGuard(doc);
            entries[adminListener].push_back(
                leaving ? entry(route.method, path, slot.name, _admin.guard(restarting(slot.name)),
                                nullptr, true, std::move(doc))
                        : entry(route.method, path, slot.name,
                                _admin.guard(counted(counter, slot.plugin, route.handler)), nullptr,
                                false, std::move(doc)));
        }
        if (slot.streamHandler) {
            auto [it, added] = streamOwner.emplace(slot.listener, slot.name);
            if (!added) {
                errors.push_back(file + ": listeners." + slot.listener +
                                 ": stream handlers of both " + it->second + " and " + slot.name);
            }
            // While it stops, its listener stays a stream listener but takes no one new.
            m.streams[slot.listener] = leaving ? nullptr : slot.streamHandler;
            m.streamOwners[slot.listener] = slot.name;
        }
    });
    m.tables.clear();
    for (auto& [name, options] : listeners) {
        bool hasStream = m.streams.count(name) > 0;
        if (options.protocol == "auto") {
            options.protocol = hasStream ? "stream" : "http";
        }
        if (options.protocol == "http" && hasStream) {
            errors.push_back(file + ": listeners." + name +
                             ": protocol http cannot serve the "
                             "stream handler of plugin " +
                             streamOwner[name]);
        }
        if (options.protocol == "stream") {
            for (const auto& e : entries[name]) {
                if (e.owner != "host") {
                    errors.push_back(file + ": listeners." + name +
                                     ": protocol stream cannot "
                                     "serve HTTP routes of " +
                                     e.owner);
                    break;
                }
            }
            continue;
        }
        auto table = std::make_shared<RouteTable>(name);
        bool admin = name == adminListener;
        auto document = std::make_shared<std::string>();
        std::string documentPath = admin ? "/admin/openapi.json" : "/openapi.json";
        entries[name].push_back(documentRoute(documentPath, document, admin ? &_admin : nullptr));
        // Swagger UI and ReDoc on that document: behind the guard on the admin listener.
        for (auto& route : ApiDocs::routes(admin ? "/admin" : "", documentPath)) {
            if (admin) {
                AdminApi::documentGuard(route.doc);
                route.handler = _admin.guard(std::move(route.handler));
                route.nonBlocking = false;
            }
            entries[name].push_back(entry(route.method, route.path, "host", route.handler, nullptr,
                                          route.nonBlocking, route.doc));
        }
        for (auto& e : entries[name]) {
            e.metrics = _metrics.route(name, e.method, e.pattern);
            try {
                table->add(std::move(e));
            } catch (const std::exception& e) {
                errors.push_back(file + ": " + e.what());
            }
        }
        OpenApiInfo info;
        info.title = "Switchboard: listener " + name;
        info.version = SB_VERSION;
        info.description = admin ? "The admin API: the host's routes and every enabled "
                                   "plugin's admin routes, behind the admin token."
                                 : "The routes of every enabled plugin mounted on this listener.";
        *document = OpenApi::render(*table, info);
        m.tables[name] = std::move(table);
    }
    return m;
}

}  // namespace switchboard
