// The running server (see Host.h).
#include "app/Host.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <thread>

#include "admin/AuditLog.h"
#include "app/Logging.h"
#include "bus/LocalBus.h"
#include "config/ConfigDocument.h"
#include "lua/LuaEngine.h"
#include "net/HttpListener.h"
#include "net/StreamListener.h"
#include "net/TlsSupport.h"
#include "store/DataStore.h"
#include "store/SqlKeyValueStore.h"
#include "switchboard/Json.h"

namespace switchboard {

namespace {
Poco::Logger& log() {
    return Poco::Logger::get("switchboard.host");
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += (out.empty() ? "" : "\n") + line;
    }
    return out;
}

AdminSettings adminSettings(const HostConfig& c) {
    AdminSettings a;
    auto listener = c.listeners.find(c.adminListener);
    ListenerOptions none;
    const ListenerOptions& admin = listener != c.listeners.end() ? listener->second : none;
    a.hosts = std::make_shared<const AdminHosts>(admin.bind, admin.port, c.adminAllowedHosts);
    a.sessionTtl = c.adminSessionTtl;
    a.failuresPerAddress = c.adminFailuresPerAddress;
    a.failureWindow = c.adminFailureWindow;
    return a;
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
    Mounts mounts;
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
    PluginOverrideMap overrides;
};

Host::Host(std::string configFile, std::string workDir, std::string exeDir)
    : _configFile(std::move(configFile)),
      _workDir(std::move(workDir)),
      _exeDir(std::move(exeDir)) {}

Host::~Host() {
    stop();
}

std::string Host::overridesFile(const HostConfig& config) const {
    return config.dataDir + "/" + PluginOverrides::kFileName;
}

std::unique_ptr<Host::Loaded> Host::load(const PluginOverrideMap* overrides) {
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
        AdminHooks hooks;
        hooks.reload = [this](const std::string& address) { return reload(address); };
        hooks.setOverride = [this](const std::string& name, std::optional<bool> enabled,
                                   const std::string& address) {
            return setOverride(name, enabled, address);
        };
        hooks.overrides = [this] { return this->overrides(); };
        _admin = std::make_unique<AdminApi>(*_plugins, _metrics, std::move(hooks));
        _logLevels = std::make_unique<LogLevels>([this] {
            std::vector<std::string> names;
            for (const auto& p : _plugins->list()) {
                names.push_back(p.name);
            }
            return names;
        });
        _admin->addRoutes(_logLevels->routes());
        _routes = std::make_unique<RouteAssembler>(_metrics, *_admin, hostRoutes());
    }
    if (overrides) {
        l->overrides = *overrides;
    } else {
        l->overrides = PluginOverrides::read(overridesFile(l->config), l->errors);
    }
    l->plan = _plugins->prepare(*l->doc, l->config.listeners, l->errors, l->warnings, l->overrides);
    buildRoutes(*l, *l->plan);
    return l;
}

void Host::startHistory() {
    auto interval = _config.adminHistoryInterval;
    auto samples = static_cast<std::size_t>(_config.adminHistoryWindow / interval);
    _history = std::make_unique<RouteHistory>(_metrics, interval, samples);
    _admin->setHistory(_history.get());
    RouteHistory* history = _history.get();
    // An owner no plugin can have (a plugin name holds no dot): stopping a plugin cancels
    // its own tasks, never this one.
    _timers.every("host.history", interval, [history] {
        history->sample(static_cast<double>(Poco::Timestamp().epochMicroseconds()) / 1e6);
    });
}

std::vector<Route> Host::hostRoutes() {
    Schema status = Schema::object({{"status", Schema::string()}});
    std::vector<Route> routes;
    routes.push_back(
        {"GET", "/healthz",
         [](const HttpRequest&, HttpResponse& resp) { resp.json(200, "{\"status\":\"ok\"}"); },
         true,
         RouteDoc("Liveness: the process serves requests")
             .answer(200, "{\"status\":\"ok\"}", status)});
    routes.push_back(
        {"GET", "/readyz",
         [this](const HttpRequest&, HttpResponse& resp) {
             // Not ready while starting or stopping, and while the shared bus or
             // the store is unreachable (a load balancer then sends clients to
             // another node); the reason names which.
             std::string reason;
             if (_ready && (!_bus || _bus->ready(reason)) && (!_store || _store->ready(reason))) {
                 resp.json(200, "{\"status\":\"ready\"}");
             } else if (!reason.empty()) {
                 resp.json(503,
                           "{\"status\":\"not ready\",\"reason\":" + json::quote(reason) + "}");
             } else {
                 resp.json(503, "{\"status\":\"not ready\"}");
             }
         },
         true,
         RouteDoc("Readiness: start-up is complete and the server is not stopping")
             .answer(200, "{\"status\":\"ready\"}", status)
             .error(503,
                    "{\"status\":\"not ready\"} while starting or stopping, or {\"status\":\"not "
                    "ready\",\"reason\":...} while the shared bus or the store is "
                    "unreachable",
                    status)});
    return routes;
}

void Host::buildRoutes(Loaded& l, const PluginPlan& plan, const std::set<std::string>& exclude) {
    l.mounts = _routes->build(l.config.file, l.config.adminListener, l.config.listeners, plan,
                              l.errors, exclude);
}

void Host::rebuildRoutes(Loaded& l) {
    _plugins->withCurrentPlan([&](const PluginPlan& plan) { buildRoutes(l, plan); });
}

void Host::quiesce(Loaded& l, const std::vector<std::string>& plugins) {
    if (plugins.empty()) {
        return;
    }
    std::set<std::string> leaving(plugins.begin(), plugins.end());
    _plugins->withCurrentPlan([&](const PluginPlan& plan) { buildRoutes(l, plan, leaving); });
    applyRoutes(l);
    auto deadline = std::chrono::steady_clock::now() + _config.shutdownTimeout;
    for (const auto& name : plugins) {
        if (int running = _routes->waitForRequests(name, deadline)) {
            log().warning("plugin %s: stopping with %d request(s) still running", name, running);
        }
        // Its WebSocket and stream connections end with it (their close handlers run before
        // its stop()); other plugins' stay open.
        if (std::size_t n = _reactor->closeOwner(name, deadline)) {
            log().information("plugin %s: closing %z connection(s)", name, n);
        }
    }
}

void Host::applyRoutes(Loaded& l) {
    for (auto& [name, listener] : _http) {
        listener->setTrustedProxies(l.config.trustedProxies);
        auto it = l.mounts.tables.find(name);
        if (it != l.mounts.tables.end()) {
            listener->setRoutes(it->second);
        }
    }
    for (auto& [name, listener] : _streams) {
        auto it = l.mounts.streams.find(name);
        bool mounted = it != l.mounts.streams.end();
        listener->setHandler(mounted ? it->second : nullptr,
                             mounted ? l.mounts.streamOwners[name] : "");
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
    try {
        return _plugins->configReference(HostConfig::schema(), l->config.pluginNames);
    } catch (const PluginError& e) {
        throw StartError(e.what());
    }
}

void Host::start() {
    std::lock_guard<std::mutex> lock(_lifecycle);
    auto l = load();
    if (!l->errors.empty()) {
        throw StartError(join(l->errors));
    }
    _config = l->config;
    configureLogging(_config);
    _logLevels->apply(_config.logLevel);
    for (const auto& w : l->warnings) {
        log().warning("%s", w);
    }
    {
        std::lock_guard<std::mutex> overridesLock(_overridesMutex);
        _overrides = l->overrides;
    }
    for (const auto& [name, enabled] : l->overrides) {
        log().warning(
            "plugin %s %s by runtime override in %s; DELETE /admin/api/plugins/%s/override "
            "(or delete the file) to go back to %s",
            name, std::string(enabled ? "enabled" : "disabled"), overridesFile(_config), name,
            _configFile);
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
        _admin->configure(adminSettings(_config));
        _store = DataStore::open(_config.storeUrl, _workDir, _config.flushInterval);
        _audit = std::make_shared<AuditLog>(*_store, _config.auditRetention);
        _services.provide<Audit>(Audit::kServiceName, _audit);
        _admin->setAudit(_audit.get());
        _bus = Bus::open(_config.busUrl, _config.busQueue);
        _admin->setBus(_bus.get());
        startHistory();
        _kv = std::make_unique<SqlKeyValueStore>(*_store);
        _lua = std::make_unique<LuaEngine>(_kv.get(), _bus.get());
        _lua->load(luaOptions(_config));
        _reactor = std::make_unique<Reactor>(_config.eventThreads);
        _requestBytes = std::make_unique<ByteBudget>(_config.maxBufferedBytes);
        _work = std::make_unique<WorkPool>(_config.workThreads, _config.workQueue);
        _accessLog = std::make_unique<AccessLog>(_metrics);
        _accessLog->configure(_config.accessLogFile, _config.accessLogFormat,
                              _config.accessLogQueue);
    } catch (const StartError&) {
        throw;
    } catch (const std::exception& e) {
        throw StartError(e.what());
    }
    _hostServices = HostServices{_store.get(), _bus.get(), _lua.get(),  &_metrics,
                                 &_services,   &_timers,   _work.get(), _config.dataDir};
    for (const auto& [name, options] : l->config.listeners) {
        bool opens = options.protocol == "http" || l->mounts.streams.count(name);
        if (opens && options.tls.enabled &&
            ensureDevCertificate(options.tls.cert, options.tls.key)) {
            log().warning("listener %s: generated a self-signed development certificate %s", name,
                          options.tls.cert);
        }
        if (options.protocol == "http") {
            _http[name] =
                std::make_unique<HttpListener>(options, _metrics, *_reactor, *_requestBytes);
            _http[name]->setAccessLog(_accessLog.get());
        } else if (l->mounts.streams.count(name)) {
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
    _work->registerMetrics(_metrics);
    _audit->registerMetrics(_metrics);
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

namespace {
std::string problemsDetail(const std::string& key, const std::string& value,
                           const std::vector<std::string>& problems) {
    std::string out = "{\"" + key + "\":" + json::quote(value) + ",\"problems\":[";
    for (std::size_t i = 0; i < problems.size(); ++i) {
        out += (i ? "," : "") + json::quote(problems[i]);
    }
    return out + "]}";
}
}  // namespace

std::vector<std::string> Host::reload(const std::string& address) {
    std::lock_guard<std::mutex> lock(_lifecycle);
    if (!_started) {
        return {"the server is not running"};
    }
    std::string via = address.empty() ? "signal" : "api";
    auto l = load();
    if (!l->errors.empty()) {
        for (const auto& e : l->errors) {
            log().error("reload rejected: %s", e);
        }
        _audit->record("admin", address, "reload.rejected", problemsDetail("via", via, l->errors));
        return l->errors;
    }
    PluginOverrideMap overrides = l->overrides;  // the file may have been edited by hand
    bool rejected = false;
    std::vector<std::string> problems = apply(std::move(l), rejected);
    if (!rejected) {
        std::lock_guard<std::mutex> overridesLock(_overridesMutex);
        _overrides = std::move(overrides);
    }
    _audit->record("admin", address, rejected ? "reload.rejected" : "reload.applied",
                   problemsDetail("via", via, problems));
    return problems;
}

OverrideOutcome Host::setOverride(const std::string& name, std::optional<bool> enabled,
                                  const std::string& address) {
    std::lock_guard<std::mutex> lock(_lifecycle);
    OverrideOutcome out;
    if (!_started) {
        out.status = 503;
        out.error = "the server is not running";
        return out;
    }
    const auto& names = _config.pluginNames;
    if (std::find(names.begin(), names.end(), name) == names.end()) {
        out.status = 404;
        out.error = "no plugin named '" + name + "' in " + _configFile;
        return out;
    }
    PluginOverrideMap previous = overrides();
    PluginOverrideMap next = previous;
    if (enabled) {
        next[name] = *enabled;
    } else {
        next.erase(name);
    }
    std::string what = !enabled ? "reset" : *enabled ? "enable" : "disable";
    auto l = load(&next);
    out.problems = l->errors;
    if (l->errors.empty()) {
        std::string file = overridesFile(l->config);
        try {
            PluginOverrides::write(file, next);
        } catch (const std::exception& e) {
            log().error("%s", std::string(e.what()));
            out.status = 500;
            out.error = "cannot save the override in " + file + "; nothing changed";
            return out;
        }
        bool rejected = false;
        out.problems = apply(std::move(l), rejected);
        if (!rejected) {
            std::lock_guard<std::mutex> overridesLock(_overridesMutex);
            _overrides = next;
            log().notice("plugin %s: runtime override %s (%s)", name,
                         std::string(enabled ? (*enabled ? "enabled" : "disabled") : "removed"),
                         file);
            std::string action = !enabled   ? "plugin.override_reset"
                                 : *enabled ? "plugin.enabled"
                                            : "plugin.disabled";
            _audit->record("admin", address, action, problemsDetail("plugin", name, out.problems));
            return out;
        }
        try {
            PluginOverrides::write(file, previous);
        } catch (const std::exception& e) {
            log().error("%s", std::string(e.what()));
        }
    }
    for (const auto& e : out.problems) {
        log().error("plugin %s: %s refused: %s", name, what, e);
    }
    _audit->record("admin", address, "plugin.override_rejected",
                   problemsDetail("plugin", name, out.problems));
    out.status = 409;
    out.error = "cannot " + what + " plugin " + name +
                ": the resulting configuration is rejected; nothing changed";
    return out;
}

PluginOverrideMap Host::overrides() const {
    std::lock_guard<std::mutex> lock(_overridesMutex);
    return _overrides;
}

std::vector<std::string> Host::apply(std::unique_ptr<Loaded> l, bool& rejected) {
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
        rejected = true;
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
    _logLevels->apply(l->config.logLevel);
    try {
        // Reopened even when unchanged: after logrotate moved it, lines go to a new file.
        _accessLog->configure(l->config.accessLogFile, l->config.accessLogFormat,
                              l->config.accessLogQueue);
    } catch (const std::exception& e) {
        log().error("%s", std::string(e.what()));
        problems.push_back(std::string("applied, but ") + e.what());
    }
    auto listeners = _config.listeners;
    _config = l->config;
    _config.listeners = listeners;
    _admin->configure(adminSettings(_config));  // the running listener's bind and port
    _audit->setRetention(_config.auditRetention);
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
    // Listeners join their threads and the reactor its loops: once they return no handler or
    // connection callback of any plugin runs, so plugins stop as Plugin.h promises.
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
    if (_work) {
        _work->stop();  // the plugins' tasks finished as they stopped; anything left runs now
    }
    if (_lua) {
        _lua->shutdown();
    }
    if (_bus) {
        _bus->stop();
    }
    if (_audit) {
        _services.withdraw(Audit::kServiceName);
        _admin->setAudit(nullptr);
        _audit->stop();  // what is queued is written before the store closes
    }
    if (_store) {
        _store->close();
    }
    if (_accessLog) {
        _accessLog->stop();
    }
    log().notice("stopped");
}

}  // namespace switchboard
