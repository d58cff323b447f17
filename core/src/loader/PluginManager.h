// Loads plugin libraries (Poco::ClassLoader, ABI-checked), validates each plugin's config
// section against its schema, and runs the lifecycle: dependencies first, reverse-order stop,
// every plugin call contained. A reload is a new Plan applied as a diff against what runs.
#pragma once

#include <Poco/ClassLoader.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/ListenerOptions.h"
#include "loader/PluginContext.h"
#include "loader/PluginOverrides.h"
#include "switchboard/Plugin.h"

namespace switchboard {

class ConfigDocument;
class MetricsRegistry;

/// A required plugin failed; the message names it and the reason.
class PluginError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Where a plugin is in its lifecycle.
enum class PluginState {
    Disabled,    ///< `enabled: false`
    Configured,  ///< configured, not started yet
    Running,     ///< started and serving
    Failed,      ///< could not be loaded, configured or started (PluginSlot::error says why)
    Stopped,     ///< stopped (by a reload or the shutdown)
};

/// "disabled", "configured", "running", "failed" or "stopped": the name the admin API and the
/// metrics show.
const char* stateName(PluginState state);

/// What the admin API shows of one plugin.
struct PluginInfo {
    std::string name;
    PluginState state = PluginState::Configured;
    bool required = true;
    std::string listener;
    std::string error;
    std::vector<std::string> dependencies;
    std::string library;
};

/// One plugin as a plan wants it.
struct PluginSlot {
    std::string name;
    bool enabled = true;
    bool required = true;
    PluginState state = PluginState::Configured;
    std::string error;
    std::string library;
    std::string fingerprint;
    ConfigSection section;
    std::string listener;
    std::vector<std::string> dependencies;
    std::shared_ptr<Plugin> plugin;  ///< null when disabled or not loadable
    bool fresh = false;              ///< a new instance (to start) rather than a running one
    std::vector<Route> routes;
    std::vector<Route> adminRoutes;
    std::vector<AdminView> adminViews;
    std::vector<WebSocketRoute> webSocketRoutes;
    std::shared_ptr<StreamHandler> streamHandler;
    std::unique_ptr<PluginContext> context;
};

struct PluginPlan {
    std::vector<std::unique_ptr<PluginSlot>> slots;  ///< in start (dependency) order
    const PluginSlot* find(const std::string& name) const;
    PluginSlot* find(const std::string& name);
};

class PluginManager {
public:
    explicit PluginManager(std::vector<std::string> pluginDirs);
    ~PluginManager();

    /// Builds the plan for `doc`: loads libraries, validates sections, configures new instances
    /// (running plugins whose section is unchanged are kept). Config problems go to `errors`
    /// (fatal); load/configure failures of plugins with required: false go to `warnings`.
    /// `overrides` (runtime enable/disable) replace the sections' `enabled`; an override of a
    /// plugin the config does not name is a warning.
    std::unique_ptr<PluginPlan> prepare(const ConfigDocument& doc,
                                        const std::map<std::string, ListenerOptions>& listeners,
                                        std::vector<std::string>& errors,
                                        std::vector<std::string>& warnings,
                                        const PluginOverrideMap& overrides = {});
    /// Stops what the plan drops or replaces (reverse order), then starts its new instances
    /// (dependency order). Throws PluginError if a required plugin fails to start.
    void apply(std::unique_ptr<PluginPlan> plan, HostServices& host);
    /// Names of the running plugins that applying `next` would stop (dropped, disabled or
    /// replaced by a new instance).
    std::vector<std::string> stoppedBy(const PluginPlan& next) const;
    /// Stops every running plugin in reverse order. Idempotent.
    void stopAll();

    std::vector<PluginInfo> list() const;
    /// Registers switchboard_plugin_up{plugin,state} (read at scrape time). The manager must
    /// outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;
    /// The configuration reference (Markdown): a table of `host`'s keys, then one of each
    /// plugin in `plugins` (host-added fields included, keys prefixed "plugins.<name>").
    /// Throws PluginError if a plugin cannot be loaded.
    std::string configReference(const ConfigSchema& host, const std::vector<std::string>& plugins);
    /// Calls `fn` with the applied plan (under the manager's lock; do not call back).
    void withCurrentPlan(const std::function<void(const PluginPlan&)>& fn) const;
    /// Calls `fn` for each running plugin (under the manager's lock; do not call back).
    void forEachRunning(const std::function<void(const PluginSlot&)>& fn) const;
    /// Same for the slots of a plan that is not applied yet.
    static void forEachEnabled(const PluginPlan& plan,
                               const std::function<void(const PluginSlot&)>& fn);

private:
    struct Library {
        std::string path;
        std::string className;
        std::shared_ptr<Plugin> prototype;  ///< for declareConfig only
    };
    const Library& library(const std::string& name);
    std::string findLibrary(const std::string& name) const;
    /// Creates and configures a new instance for `slot`; false (slot failed) on error.
    bool instantiate(PluginSlot& slot, std::vector<std::string>& errors,
                     std::vector<std::string>& warnings);
    static void orderByDependencies(PluginPlan& plan, std::vector<std::string>& errors,
                                    const ConfigDocument& doc);
    void stopSlot(PluginSlot& slot);

    std::vector<std::string> _dirs;
    // Declared first so it is destroyed last: plugin objects must die before their code.
    Poco::ClassLoader<Plugin> _loader;
    std::map<std::string, Library> _libraries;
    mutable std::mutex _mutex;
    std::unique_ptr<PluginPlan> _current;
};

}  // namespace switchboard
