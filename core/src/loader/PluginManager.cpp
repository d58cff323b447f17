// Plugin loading and lifecycle (see PluginManager.h).
#include "loader/PluginManager.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/SharedLibrary.h>

#include <algorithm>
#include <set>

#include "config/ConfigDocument.h"
#include "services/MetricsRegistry.h"

namespace switchboard {

namespace {

/// The fields the host adds to every plugin's schema.
void addHostFields(ConfigSchema& schema) {
    schema.boolean("enabled", true, "Load and start this plugin")
        .boolean("required", true, "A failure to load or start this plugin stops the server");
}

/// Schema for a plugin that cannot be loaded: host fields, every other key accepted as is.
ConfigSchema fallbackSchema(const ConfigDocument& doc, const std::string& path) {
    ConfigSchema schema;
    addHostFields(schema);
    for (const auto& key : doc.keys(path)) {
        if (key != "enabled" && key != "required") {
            schema.any(key, "");
        }
    }
    return schema;
}

template <class Fn>
bool contained(PluginSlot& slot, const char* what, Fn fn) {
    try {
        fn();
        return true;
    } catch (const std::exception& e) {
        slot.error = std::string(what) + " failed: " + e.what();
    } catch (...) {
        slot.error = std::string(what) + " failed: unknown exception";
    }
    return false;
}

}  // namespace

const char* stateName(PluginState state) {
    switch (state) {
        case PluginState::Disabled:
            return "disabled";
        case PluginState::Configured:
            return "configured";
        case PluginState::Running:
            return "running";
        case PluginState::Failed:
            return "failed";
        case PluginState::Stopped:
            return "stopped";
    }
    return "unknown";
}

const PluginSlot* PluginPlan::find(const std::string& name) const {
    for (const auto& slot : slots) {
        if (slot->name == name) {
            return slot.get();
        }
    }
    return nullptr;
}

PluginSlot* PluginPlan::find(const std::string& name) {
    return const_cast<PluginSlot*>(static_cast<const PluginPlan*>(this)->find(name));
}

PluginManager::PluginManager(std::vector<std::string> pluginDirs) : _dirs(std::move(pluginDirs)) {}

PluginManager::~PluginManager() {
    stopAll();
}

std::string PluginManager::findLibrary(const std::string& name) const {
    std::string file = "switchboard-" + name + Poco::SharedLibrary::suffix();
    for (const auto& dir : _dirs) {
        std::string path = dir + "/" + file;
        if (Poco::File(path).exists()) {
            return path;
        }
    }
    std::string searched;
    for (const auto& dir : _dirs) {
        searched += (searched.empty() ? "" : ", ") + dir;
    }
    throw PluginError(file + " not found (searched: " + searched + ")");
}

const PluginManager::Library& PluginManager::library(const std::string& name) {
    auto cached = _libraries.find(name);
    if (cached != _libraries.end()) {
        return cached->second;
    }
    Library lib;
    lib.path = findLibrary(name);
    {
        // Check the ABI before POCO touches the manifest or creates anything.
        Poco::SharedLibrary probe;
        try {
            probe.load(lib.path);
        } catch (const Poco::Exception& e) {
            throw PluginError("cannot load " + lib.path + ": " + e.displayText());
        }
        if (!probe.hasSymbol("switchboard_plugin_abi") ||
            !probe.hasSymbol("switchboard_plugin_class")) {
            throw PluginError(lib.path +
                              " is not a Switchboard plugin (no ABI symbols; build it "
                              "with SWITCHBOARD_PLUGIN)");
        }
        auto abi = reinterpret_cast<int (*)()>(probe.getSymbol("switchboard_plugin_abi"))();
        if (abi != kPluginAbiVersion) {
            throw PluginError(lib.path + " was built for plugin ABI " + std::to_string(abi) +
                              ", this host needs ABI " + std::to_string(kPluginAbiVersion));
        }
        lib.className =
            reinterpret_cast<const char* (*)()>(probe.getSymbol("switchboard_plugin_class"))();
    }
    try {
        _loader.loadLibrary(lib.path);
        if (!_loader.canCreate(lib.className)) {
            throw PluginError(lib.path + ": manifest does not export " + lib.className);
        }
        lib.prototype.reset(_loader.create(lib.className));
    } catch (const PluginError&) {
        throw;
    } catch (const Poco::Exception& e) {
        throw PluginError(lib.path + ": " + e.displayText());
    }
    return _libraries.emplace(name, std::move(lib)).first->second;
}

bool PluginManager::instantiate(PluginSlot& slot, std::vector<std::string>& errors,
                                std::vector<std::string>& warnings) {
    slot.fresh = true;
    slot.plugin.reset(_loader.create(library(slot.name).className));
    try {
        slot.plugin->configure(slot.section);
    } catch (const ConfigError& e) {
        // A config problem is fatal whatever `required` says: the file must be fixed.
        slot.error = e.what();
        errors.insert(errors.end(), e.messages().begin(), e.messages().end());
        slot.state = PluginState::Failed;
        slot.plugin.reset();
        return false;
    } catch (const std::exception& e) {
        slot.error = std::string("configure failed: ") + e.what();
    } catch (...) {
        slot.error = "configure failed: unknown exception";
    }
    if (!slot.error.empty()) {
        (slot.required ? errors : warnings).push_back("plugins." + slot.name + ": " + slot.error);
        slot.state = PluginState::Failed;
        slot.plugin.reset();
        return false;
    }
    return true;
}

std::unique_ptr<PluginPlan> PluginManager::prepare(
    const ConfigDocument& doc, const std::map<std::string, ListenerOptions>& listeners,
    std::vector<std::string>& errors, std::vector<std::string>& warnings,
    const PluginOverrideMap& overrides) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto plan = std::make_unique<PluginPlan>();
    std::vector<std::string> names = doc.keys("plugins");
    for (const auto& [name, enabled] : overrides) {
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            warnings.push_back("runtime override of plugin '" + name +
                               "' ignored: the config names no such plugin");
        }
    }
    for (const auto& name : names) {
        auto slot = std::make_unique<PluginSlot>();
        slot->name = name;
        std::string path = "plugins." + name;
        const Library* lib = nullptr;
        std::string loadError;
        try {
            lib = &library(name);
        } catch (const std::exception& e) {
            loadError = e.what();
        }
        ConfigSchema schema;
        if (lib != nullptr) {
            addHostFields(schema);
            lib->prototype->declareConfig(schema);
        } else {
            schema = fallbackSchema(doc, path);
        }
        slot->section = doc.validate(path, schema, errors);
        slot->enabled = slot->section.getBool("enabled");
        auto overridden = overrides.find(name);
        if (overridden != overrides.end()) {
            slot->enabled = overridden->second;
        }
        slot->required = slot->section.getBool("required");
        slot->fingerprint = slot->section.fingerprint();
        if (!slot->enabled) {
            slot->state = PluginState::Disabled;
        } else if (lib == nullptr) {
            slot->state = PluginState::Failed;
            slot->error = loadError;
            (slot->required ? errors : warnings).push_back(path + ": " + loadError);
        } else {
            slot->library = lib->path;
            const PluginSlot* running = _current ? _current->find(name) : nullptr;
            if (running && running->plugin && running->state == PluginState::Running &&
                running->fingerprint == slot->fingerprint) {
                slot->plugin = running->plugin;  // unchanged: keep the running instance
            } else {
                instantiate(*slot, errors, warnings);
            }
        }
        if (slot->plugin && contained(*slot, "declaring routes", [&] {
                                slot->dependencies = slot->plugin->dependencies();
                                slot->listener = slot->plugin->listener();
                                slot->routes = slot->plugin->routes();
                                slot->adminRoutes = slot->plugin->adminRoutes();
                                slot->adminViews = slot->plugin->adminViews();
                                slot->webSocketRoutes = slot->plugin->webSocketRoutes();
                                slot->streamHandler = slot->plugin->streamHandler();
                            }) == false) {
            errors.push_back(path + ": " + slot->error);
        }
        if (slot->plugin && !slot->listener.empty() && !listeners.count(slot->listener)) {
            errors.push_back(doc.location(path + ".listener") + ": " + path +
                             ".listener: no listener named '" + slot->listener + "'");
        }
        plan->slots.push_back(std::move(slot));
    }
    orderByDependencies(*plan, errors, doc);
    // A kept instance whose dependency gets a new instance restarts with it (new instance).
    for (auto& slot : plan->slots) {
        if (!slot->plugin || slot->fresh) {
            continue;
        }
        for (const auto& dep : slot->dependencies) {
            const PluginSlot* d = plan->find(dep);
            if (d && d->fresh) {
                instantiate(*slot, errors, warnings);
                break;
            }
        }
    }
    return plan;
}

void PluginManager::orderByDependencies(PluginPlan& plan, std::vector<std::string>& errors,
                                        const ConfigDocument& doc) {
    for (const auto& slot : plan.slots) {
        for (const auto& dep : slot->dependencies) {
            const PluginSlot* d = plan.find(dep);
            if (slot->enabled && (d == nullptr || !d->enabled)) {
                errors.push_back(doc.location("plugins." + slot->name) + ": plugins." + slot->name +
                                 ": requires plugin '" + dep + "', which is not enabled");
            }
        }
    }
    // Repeatedly take the first slot whose dependencies are all placed (stable for ties).
    std::vector<std::unique_ptr<PluginSlot>> pending = std::move(plan.slots);
    plan.slots.clear();
    std::set<std::string> placed;
    while (!pending.empty()) {
        auto next = std::find_if(pending.begin(), pending.end(), [&](const auto& slot) {
            for (const auto& dep : slot->dependencies) {
                bool inPlan = std::any_of(pending.begin(), pending.end(),
                                          [&](const auto& p) { return p->name == dep; });
                if (inPlan && !placed.count(dep)) {
                    return false;
                }
            }
            return true;
        });
        if (next == pending.end()) {
            std::string cycle;
            for (const auto& slot : pending) {
                cycle += (cycle.empty() ? "" : ", ") + slot->name;
            }
            errors.push_back(doc.fileName() + ": plugins: dependency cycle among " + cycle);
            for (auto& slot : pending) {
                plan.slots.push_back(std::move(slot));
            }
            return;
        }
        placed.insert((*next)->name);
        plan.slots.push_back(std::move(*next));
        pending.erase(next);
    }
}

void PluginManager::stopSlot(PluginSlot& slot) {
    if (slot.state != PluginState::Running) {
        return;
    }
    Poco::Logger& logger = Poco::Logger::get("switchboard." + slot.name);
    // Timers and bus handlers end first (release() waits for one that is running), so stop()
    // never races them: the guarantee Plugin.h documents.
    if (slot.context) {
        slot.context->release();
    }
    try {
        slot.plugin->stop();
    } catch (const std::exception& e) {
        logger.error("stop failed: %s", std::string(e.what()));
    } catch (...) {
        logger.error("stop failed");
    }
    slot.state = PluginState::Stopped;
    logger.information("stopped");
}

void PluginManager::apply(std::unique_ptr<PluginPlan> plan, HostServices& host) {
    std::lock_guard<std::mutex> lock(_mutex);
    if (_current) {
        // Stop (reverse order) every running plugin the new plan does not keep as it is.
        for (auto it = _current->slots.rbegin(); it != _current->slots.rend(); ++it) {
            PluginSlot& old = **it;
            PluginSlot* next = plan->find(old.name);
            bool kept = next && next->plugin == old.plugin && !next->fresh;
            if (kept) {
                next->context = std::move(old.context);
                next->state = old.state;
            } else {
                stopSlot(old);
            }
        }
    }
    std::string fatal;
    for (auto& slot : plan->slots) {
        if (!slot->fresh || !slot->plugin || slot->state == PluginState::Failed) {
            continue;
        }
        for (const auto& dep : slot->dependencies) {
            const PluginSlot* d = plan->find(dep);
            if (d == nullptr || d->state != PluginState::Running) {
                slot->state = PluginState::Failed;
                slot->error = "dependency '" + dep + "' is not running";
            }
        }
        if (slot->state != PluginState::Failed) {
            slot->context = std::make_unique<PluginContext>(slot->name, host);
            if (contained(*slot, "start", [&] { slot->plugin->start(*slot->context); })) {
                slot->state = PluginState::Running;
                Poco::Logger::get("switchboard." + slot->name).information("started");
                continue;
            }
            slot->context->release();
            slot->state = PluginState::Failed;
        }
        Poco::Logger::get("switchboard." + slot->name).error("%s", slot->error);
        if (slot->required && fatal.empty()) {
            fatal = "plugin " + slot->name + ": " + slot->error;
        }
    }
    _current = std::move(plan);
    if (!fatal.empty()) {
        throw PluginError(fatal);
    }
}

std::vector<std::string> PluginManager::stoppedBy(const PluginPlan& next) const {
    std::lock_guard<std::mutex> lock(_mutex);
    std::vector<std::string> names;
    if (!_current) {
        return names;
    }
    for (const auto& old : _current->slots) {
        const PluginSlot* kept = next.find(old->name);
        if (old->state == PluginState::Running &&
            !(kept && kept->plugin == old->plugin && !kept->fresh)) {
            names.push_back(old->name);
        }
    }
    return names;
}

void PluginManager::stopAll() {
    std::lock_guard<std::mutex> lock(_mutex);
    if (!_current) {
        return;
    }
    for (auto it = _current->slots.rbegin(); it != _current->slots.rend(); ++it) {
        stopSlot(**it);
    }
}

std::string PluginManager::configReference(const ConfigSchema& host,
                                           const std::vector<std::string>& plugins) {
    const std::string header = "| key | type | default | description |\n|---|---|---|---|\n";
    std::string out = "## Host\n\n" + header + host.markdown("");
    std::lock_guard<std::mutex> lock(_mutex);
    for (const auto& name : plugins) {
        ConfigSchema schema;
        addHostFields(schema);
        library(name).prototype->declareConfig(schema);
        out += "\n## Plugin `" + name + "`\n\n" + header + schema.markdown("plugins." + name);
    }
    return out;
}

std::vector<PluginInfo> PluginManager::list() const {
    std::lock_guard<std::mutex> lock(_mutex);
    std::vector<PluginInfo> out;
    if (!_current) {
        return out;
    }
    for (const auto& slot : _current->slots) {
        out.push_back(PluginInfo{slot->name, slot->state, slot->required, slot->listener,
                                 slot->error, slot->dependencies, slot->library});
    }
    return out;
}

void PluginManager::withCurrentPlan(const std::function<void(const PluginPlan&)>& fn) const {
    std::lock_guard<std::mutex> lock(_mutex);
    if (_current) {
        fn(*_current);
    }
}

void PluginManager::forEachRunning(const std::function<void(const PluginSlot&)>& fn) const {
    std::lock_guard<std::mutex> lock(_mutex);
    if (!_current) {
        return;
    }
    for (const auto& slot : _current->slots) {
        if (slot->state == PluginState::Running) {
            fn(*slot);
        }
    }
}

void PluginManager::forEachEnabled(const PluginPlan& plan,
                                   const std::function<void(const PluginSlot&)>& fn) {
    for (const auto& slot : plan.slots) {
        if (slot->enabled && slot->plugin && slot->state != PluginState::Failed) {
            fn(*slot);
        }
    }
}

void PluginManager::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        out +=
            "# HELP switchboard_plugin_up Plugin state: 1 running, 0 otherwise\n"
            "# TYPE switchboard_plugin_up gauge\n";
        for (const auto& p : list()) {
            out += "switchboard_plugin_up{plugin=\"" + p.name + "\",state=\"" + stateName(p.state) +
                   "\"} " + (p.state == PluginState::Running ? "1" : "0") + "\n";
        }
    });
}

}  // namespace switchboard
