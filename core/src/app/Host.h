// The running server: owns store, bus, Lua, metrics, listeners and plugins, and implements
// check (validate only), start, reload (diff against what runs) and graceful stop.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin/AdminApi.h"
#include "app/LogLevels.h"
#include "app/RouteAssembler.h"
#include "config/HostConfig.h"
#include "loader/PluginManager.h"
#include "loader/PluginOverrides.h"
#include "net/ConnectionLimits.h"
#include "net/Reactor.h"
#include "services/AccessLog.h"
#include "services/MetricsRegistry.h"
#include "services/RouteHistory.h"
#include "services/ServiceRegistry.h"
#include "services/TimerService.h"
#include "services/WorkPool.h"

namespace switchboard {

class DataStore;
class Bus;
class LuaEngine;
class KeyValueStore;
class HttpListener;
class StreamListener;
class ConfigDocument;
class AuditLog;

/// Start-up failed; what() is the one line to print.
class StartError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Host {
public:
    /// `workDir` is where relative config paths resolve; `exeDir` locates the default plugin
    /// directories.
    Host(std::string configFile, std::string workDir, std::string exeDir);
    ~Host();

    /// Validates the config file and every plugin section without opening anything. Returns
    /// the problems (empty = valid); non-fatal warnings go to `warnings`.
    std::vector<std::string> check(std::vector<std::string>& warnings);
    /// The configuration reference (Markdown): the host schema, then the schema of every
    /// plugin the config names. Throws StartError if the config cannot be read.
    std::string schemaReference();
    /// Opens store and bus, starts plugins and listeners. Throws StartError.
    void start();
    /// Re-reads the config and applies it; returns the problems (empty = applied). A rejected
    /// config leaves everything running as it was. `address` names the client of an API
    /// request ("" for SIGHUP), for the audit log.
    std::vector<std::string> reload(const std::string& address = "");
    /// Sets (`enabled` true/false) or removes (nullopt) the runtime override of plugin `name`,
    /// then reloads as reload() does. The override file changes only if the resulting
    /// configuration is accepted (409 with the problems otherwise; 404 for a plugin the config
    /// does not name).
    OverrideOutcome setOverride(const std::string& name, std::optional<bool> enabled,
                                const std::string& address);
    /// The overrides in force.
    PluginOverrideMap overrides() const;
    /// Graceful stop (idempotent).
    void stop();

    const HostConfig& config() const { return _config; }

private:
    struct Loaded;
    /// Reads and validates the config file and the override file (or uses `overrides`) and
    /// prepares the plugin plan (nothing starts).
    std::unique_ptr<Loaded> load(const PluginOverrideMap* overrides = nullptr);
    /// Applies a loaded config that passed validation (_lifecycle held). Sets `rejected` when
    /// the Lua scripts refuse it (then nothing changed).
    std::vector<std::string> apply(std::unique_ptr<Loaded> loaded, bool& rejected);
    std::string overridesFile(const HostConfig& config) const;
    /// Builds the route tables of `plan`'s plugins, leaving out those named in `exclude`.
    void buildRoutes(Loaded& loaded, const PluginPlan& plan,
                     const std::set<std::string>& exclude = {});
    /// Unmounts `plugins` and waits (at most shutdown_timeout) for their requests to finish.
    void quiesce(Loaded& loaded, const std::vector<std::string>& plugins);
    /// buildRoutes() over the plan the manager has applied (failed plugins left out).
    void rebuildRoutes(Loaded& loaded);
    void applyRoutes(Loaded& loaded);
    /// Samples the per-route history for the console's charts every admin.history_interval.
    void startHistory();
    /// /healthz and /readyz, on every HTTP listener.
    std::vector<Route> hostRoutes();
    /// Starts one listener; a bind failure becomes a StartError naming it.
    template <class Listener>
    void startListener(Listener& listener, const std::string& kind);

    std::string _configFile;
    std::string _workDir;
    std::string _exeDir;
    HostConfig _config;
    std::mutex _lifecycle;
    std::atomic<bool> _ready{false};
    bool _started = false;
    mutable std::mutex _overridesMutex;
    PluginOverrideMap _overrides;  ///< in force (guarded by _overridesMutex)

    MetricsRegistry _metrics;
    std::unique_ptr<RouteHistory> _history;  ///< sampled on _timers, destroyed (stopped) first
    ServiceRegistry _services;
    TimerService _timers;
    std::unique_ptr<DataStore> _store;
    std::shared_ptr<AuditLog> _audit;  ///< after the store: gone before it closes
    std::unique_ptr<Bus> _bus;
    std::unique_ptr<KeyValueStore> _kv;
    std::unique_ptr<LuaEngine> _lua;
    std::unique_ptr<ByteBudget> _requestBytes;  ///< outlives the reactor's connections
    std::unique_ptr<Reactor> _reactor;
    std::unique_ptr<WorkPool> _work;
    std::unique_ptr<PluginManager> _plugins;
    std::unique_ptr<AdminApi> _admin;
    std::unique_ptr<RouteAssembler> _routes;
    std::unique_ptr<LogLevels> _logLevels;
    std::unique_ptr<AccessLog> _accessLog;  ///< outlives the listeners that write to it
    HostServices _hostServices;
    std::map<std::string, std::unique_ptr<HttpListener>> _http;
    std::map<std::string, std::unique_ptr<StreamListener>> _streams;
};

}  // namespace switchboard
