// The running server (see Host.h).
#include "app/Host.h"

#include <Poco/AsyncChannel.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>

#include <iostream>
#include <thread>

#include "config/ConfigDocument.h"
#include "store/DataStore.h"
#include "net/HttpListener.h"
#include "app/JsonLogFormatter.h"
#include "bus/LocalBus.h"
#include "lua/LuaEngine.h"
#include "store/SqlKeyValueStore.h"
#include "net/StreamListener.h"
#include "net/TlsSupport.h"

namespace switchboard {

namespace {
Poco::Logger& log() { return Poco::Logger::get("switchboard.host"); }

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += (out.empty() ? "" : "\n") + line;
    }
    return out;
}

RouteEntry entry(const std::string& method, const std::string& path, const std::string& owner,
                 HttpHandler handler, std::shared_ptr<WebSocketHandler> webSocket = nullptr) {
    RouteEntry e;
    e.method = method;
    e.pattern = path;
    e.owner = owner;
    e.handler = std::move(handler);
    e.webSocket = std::move(webSocket);
    return e;
}

LuaOptions luaOptions(const HostConfig& c) {
    LuaOptions o;
    o.scripts = c.luaScripts;
    o.instructionBudget = c.luaInstructionBudget;
    o.memoryLimit = c.luaMemoryLimit;
    return o;
}
}  // namespace

struct Host::Loaded {
    std::unique_ptr<ConfigDocument> doc;
    HostConfig config;
    std::unique_ptr<PluginPlan> plan;
    std::map<std::string, std::shared_ptr<RouteTable>> tables;  ///< http listeners
    std::map<std::string, std::shared_ptr<StreamHandler>> streams;
    std::map<std::string, std::string> streamOwners;  ///< listener -> plugin
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};

Host::Host(std::string configFile, std::string workDir, std::string exeDir)
    : _configFile(std::move(configFile)),
      _workDir(std::move(workDir)),
      _exeDir(std::move(exeDir)) {}

Host::~Host() { stop(); }

std::unique_ptr<Host::Loaded> Host::load() {
    auto l = std::make_unique<Loaded>();
    try {
        // Opened through the start-up directory (--daemon moves to /), named as given.
        std::string path = Poco::Path(_workDir).resolve(Poco::Path(_configFile)).toString();
        l->doc = std::make_unique<ConfigDocument>(ConfigDocument::loadFile(path, _configFile));
    } catch (const ConfigError& e) {
        l->errors.push_back(e.what());
        return l;
    }
    l->config = HostConfig::parse(*l->doc, _workDir, l->errors);
    if (l->config.pluginDirs.empty()) {
        l->config.pluginDirs = {_exeDir + "/plugins", _exeDir + "/../lib/switchboard"};
    }
    if (!_plugins) {
        _plugins = std::make_unique<PluginManager>(l->config.pluginDirs);
        _admin = std::make_unique<AdminApi>(*_plugins, _metrics, [this] { return reload(); });
    }
    l->plan = _plugins->prepare(*l->doc, l->config.listeners, l->errors, l->warnings);
    buildRoutes(*l, *l->plan);
    return l;
}

std::vector<Route> Host::hostRoutes(const std::string&) {
    std::vector<Route> routes;
    routes.push_back({"GET", "/healthz", [](const HttpRequest&, HttpResponse& resp) {
                          resp.json(200, "{\"status\":\"ok\"}");
                      }});
    routes.push_back({"GET", "/readyz", [this](const HttpRequest&, HttpResponse& resp) {
                          if (_ready) {
                              resp.json(200, "{\"status\":\"ready\"}");
                          } else {
                              resp.json(503, "{\"status\":\"not ready\"}");
                          }
                      }});
    return routes;
}

void Host::rebuildRoutes(Loaded& l) {
    _plugins->withCurrentPlan([&](const PluginPlan& plan) { buildRoutes(l, plan); });
}

std::shared_ptr<std::atomic<int>> Host::inflight(const std::string& plugin) {
    std::lock_guard<std::mutex> lock(_inflightMutex);
    auto& counter = _inflight[plugin];
    if (!counter) {
        counter = std::make_shared<std::atomic<int>>(0);
    }
    return counter;
}

namespace {
/// Wraps a plugin handler so the host knows when no request is inside it.
HttpHandler counted(std::shared_ptr<std::atomic<int>> counter, HttpHandler handler) {
    return [counter = std::move(counter), handler = std::move(handler)](const HttpRequest& req,
                                                                        HttpResponse& resp) {
        struct Guard {
            std::atomic<int>& n;
            explicit Guard(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
            ~Guard() { n.fetch_sub(1); }
        } guard(*counter);
        handler(req, resp);
    };
}
}  // namespace

void Host::quiesce(Loaded& l, const std::vector<std::string>& plugins) {
    if (plugins.empty()) {
        return;
    }
    std::set<std::string> leaving(plugins.begin(), plugins.end());
    _plugins->withCurrentPlan([&](const PluginPlan& plan) { buildRoutes(l, plan, leaving); });
    applyRoutes(l);
    auto deadline = std::chrono::steady_clock::now() + _config.shutdownTimeout;
    for (const auto& name : plugins) {
        auto counter = inflight(name);
        while (counter->load() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (counter->load() > 0) {
            log().warning("plugin %s: stopping with %d request(s) still running", name,
                          counter->load());
        }
        // Its WebSocket and stream connections end with it; other plugins' stay open.
        if (std::size_t n = _reactor->closeOwner(name)) {
            log().information("plugin %s: closing %z connection(s)", name, n);
        }
    }
}

void Host::buildRoutes(Loaded& l, const PluginPlan& plan, const std::set<std::string>& exclude) {
    const std::string& file = l.config.file;
    std::map<std::string, std::vector<RouteEntry>> entries;
    std::map<std::string, std::string> streamOwner;
    l.streams.clear();
    l.streamOwners.clear();
    for (const auto& [name, options] : l.config.listeners) {
        for (auto& route : hostRoutes(name)) {
            entries[name].push_back(entry(route.method, route.path, "host", route.handler));
        }
    }
    if (l.config.listeners.count(l.config.adminListener)) {
        for (auto& route : _admin->routes()) {
            entries[l.config.adminListener].push_back(
                entry(route.method, route.path, "host", route.handler));
        }
    }
    PluginManager::forEachEnabled(plan, [&](const PluginSlot& slot) {
        if (exclude.count(slot.name)) {
            return;
        }
        auto counter = inflight(slot.name);
        std::string where = file + ": plugins." + slot.name + ": ";
        bool mounts = !slot.routes.empty() || !slot.webSocketRoutes.empty() || slot.streamHandler;
        if (mounts && !l.config.listeners.count(slot.listener)) {
            if (slot.listener.empty()) {
                l.errors.push_back(where + "has routes but names no listener");
            }
            return;  // an unknown listener name was reported by the plugin manager
        }
        for (const auto& route : slot.routes) {
            entries[slot.listener].push_back(
                entry(route.method, route.path, slot.name, counted(counter, route.handler)));
        }
        for (const auto& ws : slot.webSocketRoutes) {
            entries[slot.listener].push_back(
                entry("GET", ws.path, slot.name, nullptr, ws.handler));
        }
        for (const auto& route : slot.adminRoutes) {
            entries[l.config.adminListener].push_back(
                entry(route.method, "/admin/api/" + slot.name + route.path, slot.name,
                      _admin->guard(counted(counter, route.handler))));
        }
        if (slot.streamHandler) {
            auto [it, added] = streamOwner.emplace(slot.listener, slot.name);
            if (!added) {
                l.errors.push_back(file + ": listeners." + slot.listener +
                                   ": stream handlers of both " + it->second + " and " +
                                   slot.name);
            }
            l.streams[slot.listener] = slot.streamHandler;
            l.streamOwners[slot.listener] = slot.name;
        }
    });
    l.tables.clear();
    for (auto& [name, options] : l.config.listeners) {
        bool hasStream = l.streams.count(name) > 0;
        if (options.protocol == "auto") {
            options.protocol = hasStream ? "stream" : "http";
        }
        if (options.protocol == "http" && hasStream) {
            l.errors.push_back(file + ": listeners." + name + ": protocol http cannot serve the "
                                                              "stream handler of plugin " +
                               streamOwner[name]);
        }
        if (options.protocol == "stream") {
            for (const auto& e : entries[name]) {
                if (e.owner != "host") {
                    l.errors.push_back(file + ": listeners." + name + ": protocol stream cannot "
                                                                      "serve HTTP routes of " +
                                       e.owner);
                    break;
                }
            }
            continue;
        }
        auto table = std::make_shared<RouteTable>(name);
        for (auto& e : entries[name]) {
            e.metrics = _metrics.route(name, e.method, e.pattern);
            try {
                table->add(std::move(e));
            } catch (const std::exception& e) {
                l.errors.push_back(file + ": " + e.what());
            }
        }
        l.tables[name] = std::move(table);
    }
}

void Host::applyRoutes(Loaded& l) {
    for (auto& [name, listener] : _http) {
        listener->setTrustedProxies(l.config.trustedProxies);
        auto it = l.tables.find(name);
        if (it != l.tables.end()) {
            listener->setRoutes(it->second);
        }
    }
    for (auto& [name, listener] : _streams) {
        auto it = l.streams.find(name);
        listener->setHandler(it != l.streams.end() ? it->second : nullptr,
                             it != l.streams.end() ? l.streamOwners[name] : "");
    }
}

std::vector<std::string> Host::check(std::vector<std::string>& warnings) {
    std::lock_guard<std::mutex> lock(_lifecycle);
    auto l = load();
    warnings = l->warnings;
    if (l->errors.empty()) {
        LocalBus scratchBus(16);
        LuaEngine probe(nullptr, &scratchBus);
        try {
            probe.load(luaOptions(l->config));
        } catch (const std::exception& e) {
            l->errors.push_back(e.what());
        }
        probe.shutdown();
        scratchBus.stop();
    }
    return l->errors;
}

std::string Host::schemaReference() {
    std::lock_guard<std::mutex> lock(_lifecycle);
    auto l = load();
    std::string out = "## Host\n\n| key | type | default | description |\n|---|---|---|---|\n" +
                      HostConfig::schema().markdown("");
    for (const auto& name : l->config.pluginNames) {
        out += "\n## Plugin `" + name + "`\n\n| key | type | default | description |\n"
               "|---|---|---|---|\n";
        try {
            out += _plugins->schemaMarkdown(name);
        } catch (const std::exception& e) {
            throw StartError(e.what());
        }
    }
    return out;
}

void Host::configureLogging(const HostConfig& c) {
    Poco::AutoPtr<Poco::Channel> sink;
    if (c.logFile.empty()) {
        sink = new Poco::ConsoleChannel(std::cerr);
    } else {
        Poco::File(Poco::Path(c.logFile).parent()).createDirectories();
        auto* file = new Poco::FileChannel(c.logFile);
        file->setProperty("rotation", "100 M");
        file->setProperty("archive", "timestamp");
        file->setProperty("purgeCount", "5");
        sink = file;
    }
    Poco::AutoPtr<Poco::Formatter> formatter;
    if (c.logFormat == "json") {
        formatter = new JsonLogFormatter;
    } else {
        formatter = new Poco::PatternFormatter("%Y-%m-%d %H:%M:%S.%i %q %s: %t");
        formatter->setProperty("times", "local");
    }
    Poco::AutoPtr<Poco::Channel> channel = new Poco::FormattingChannel(formatter, sink);
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(c.logLevel));
}

void Host::start() {
    std::lock_guard<std::mutex> lock(_lifecycle);
    auto l = load();
    if (!l->errors.empty()) {
        throw StartError(join(l->errors));
    }
    _config = l->config;
    configureLogging(_config);
    for (const auto& w : l->warnings) {
        log().warning("%s", w);
    }
    try {
        Poco::File(_config.dataDir).createDirectories();
        if (_config.adminToken.empty()) {
            bool created = false;
            std::string file = _config.dataDir + "/admin-token";
            _admin->setToken(loadOrCreateSecret(file, created));
            log().notice("admin token %s %s", std::string(created ? "generated in" : "read from"),
                         file);
        } else {
            _admin->setToken(_config.adminToken);
        }
        _store = DataStore::open(_config.storeUrl, _workDir, _config.flushInterval);
        _bus = Bus::open(_config.busUrl, _config.busQueue);
        _admin->setBus(_bus.get());
        _kv = std::make_unique<SqlKeyValueStore>(*_store);
        _lua = std::make_unique<LuaEngine>(_kv.get(), _bus.get());
        _lua->load(luaOptions(_config));
        _reactor = std::make_unique<Reactor>(_config.eventThreads);
    } catch (const StartError&) {
        throw;
    } catch (const std::exception& e) {
        throw StartError(e.what());
    }
    _hostServices = HostServices{_store.get(), _bus.get(), _lua.get(), &_metrics, &_services,
                                 &_timers, _config.dataDir};
    for (const auto& [name, options] : l->config.listeners) {
        bool opens = options.protocol == "http" || l->streams.count(name);
        if (opens && options.tls.enabled &&
            ensureDevCertificate(options.tls.cert, options.tls.key)) {
            log().warning("listener %s: generated a self-signed development certificate %s",
                          name, options.tls.cert);
        }
        if (options.protocol == "http") {
            _http[name] = std::make_unique<HttpListener>(options, _metrics, *_reactor);
        } else if (l->streams.count(name)) {
            _streams[name] = std::make_unique<StreamListener>(options, *_reactor);
        } else {
            log().information("listener %s: nothing mounted, not opened", name);
        }
    }
    _started = true;
    try {
        _plugins->apply(std::move(l->plan), _hostServices);
    } catch (const PluginError& e) {
        throw StartError(e.what());
    }
    rebuildRoutes(*l);  // again, now without plugins that failed to start
    applyRoutes(*l);
    _plugins->registerMetrics(_metrics);
    _bus->registerMetrics(_metrics);
    _reactor->registerMetrics(_metrics);
    _store->registerMetrics(_metrics);
    for (auto& [name, listener] : _http) {
        startListener(*listener, listener->options().tls.enabled ? "https" : "http");
    }
    for (auto& [name, listener] : _streams) {
        startListener(*listener, listener->options().tls.enabled ? "stream (TLS)" : "stream");
    }
    _ready = true;
    log().notice("switchboard ready (config %s)", _configFile);
}

template <class Listener>
void Host::startListener(Listener& listener, const std::string& kind) {
    const ListenerOptions& o = listener.options();
    try {
        listener.start();
    } catch (const Poco::Exception& e) {
        throw StartError("listener " + o.name + ": cannot listen on " + o.bind + ":" +
                         std::to_string(o.port) + ": " + e.displayText());
    }
    log().information("listener %s: %s on %s:%hu", o.name, kind, o.bind, o.port);
}

std::vector<std::string> Host::reload() {
    std::lock_guard<std::mutex> lock(_lifecycle);
    if (!_started) {
        return {"the server is not running"};
    }
    auto l = load();
    if (!l->errors.empty()) {
        for (const auto& e : l->errors) {
            log().error("reload rejected: %s", e);
        }
        return l->errors;
    }
    for (const auto& [name, options] : l->config.listeners) {
        auto old = _config.listeners.find(name);
        if (old == _config.listeners.end() || old->second.port != options.port ||
            old->second.bind != options.bind || old->second.tls.cert != options.tls.cert) {
            log().warning("listener %s: changes to listeners take effect after a restart", name);
        }
    }
    try {
        _lua->load(luaOptions(l->config));
    } catch (const std::exception& e) {
        log().error("reload rejected: %s", std::string(e.what()));
        return {e.what()};
    }
    for (const auto& w : l->warnings) {
        log().warning("%s", w);
    }
    // Plugins about to stop leave the route tables first; requests inside them finish.
    quiesce(*l, _plugins->stoppedBy(*l->plan));
    std::vector<std::string> problems;
    try {
        _plugins->apply(std::move(l->plan), _hostServices);
    } catch (const PluginError& e) {
        problems.push_back(std::string("applied, but ") + e.what());
    }
    rebuildRoutes(*l);
    applyRoutes(*l);
    if (!l->config.adminToken.empty()) {
        _admin->setToken(l->config.adminToken);
    }
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(l->config.logLevel));
    auto listeners = _config.listeners;
    _config = l->config;
    _config.listeners = listeners;
    log().notice("configuration reloaded from %s", _configFile);
    return problems;
}

void Host::stop() {
    std::lock_guard<std::mutex> lock(_lifecycle);
    if (!_started) {
        return;
    }
    _started = false;
    _ready = false;
    log().notice("stopping");
    if (_admin) {
        _admin->stop();
    }
    for (auto& [name, listener] : _http) {
        listener->stop(_config.shutdownTimeout);
    }
    for (auto& [name, listener] : _streams) {
        listener->stop();
    }
    if (_reactor) {
        _reactor->stop();
    }
    if (_plugins) {
        _plugins->stopAll();
    }
    _timers.stop();
    if (_lua) {
        _lua->shutdown();
    }
    if (_bus) {
        _bus->stop();
    }
    if (_store) {
        _store->close();
    }
    log().notice("stopped");
}

}  // namespace switchboard
