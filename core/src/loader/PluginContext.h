// The HostContext one plugin gets: host services seen through the plugin's name (logger,
// metric prefix, timers and bus subscriptions that are cleaned up when the plugin stops).
#pragma once

#include <mutex>
#include <set>

#include "bus/Bus.h"
#include "lua/LuaEngine.h"
#include "services/MetricsRegistry.h"
#include "services/ServiceRegistry.h"
#include "services/TimerService.h"
#include "services/WorkPool.h"
#include "switchboard/HostContext.h"

namespace switchboard {

/// The host services every plugin context points at.
struct HostServices {
    Store* store = nullptr;
    Bus* bus = nullptr;
    LuaEngine* lua = nullptr;
    MetricsRegistry* metrics = nullptr;
    ServiceRegistry* services = nullptr;
    TimerService* timers = nullptr;
    WorkPool* work = nullptr;
    std::string dataDir;
};

/// The bus as a plugin sees it: subscribes in the plugin's name (its handlers' failures are
/// logged as the plugin's) and remembers subscriptions so they end with the plugin.
class PluginBus : public EventBus {
public:
    PluginBus(Bus& bus, std::string owner) : _bus(bus), _owner(std::move(owner)) {}
    void publish(const std::string& topic, std::string payloadJson) override;
    std::uint64_t subscribe(const std::string& pattern, Handler handler) override;
    void unsubscribe(std::uint64_t id) override;
    BusStats stats() const override { return _bus.stats(); }
    std::string nodeId() const override { return _bus.nodeId(); }
    void watchNode(const std::string& nodeId) override { _bus.watchNode(nodeId); }
    void unsubscribeAll();

private:
    Bus& _bus;
    std::string _owner;
    std::mutex _mutex;
    std::set<std::uint64_t> _ids;
};

/// Lua as a plugin sees it: hook failures are logged as the plugin's.
class PluginLua : public Lua {
public:
    PluginLua(LuaEngine& engine, std::string caller)
        : _engine(engine), _caller(std::move(caller)) {}
    bool hasHook(const std::string& name) const override { return _engine.hasHook(name); }
    LuaResult call(const std::string& name,
                   const std::vector<const rapidjson::Value*>& args) override {
        return _engine.call(name, args, _caller);
    }

private:
    LuaEngine& _engine;
    std::string _caller;
};

class PluginContext : public HostContext {
public:
    PluginContext(std::string name, HostServices& host);
    const std::string& pluginName() const override { return _name; }
    Poco::Logger& logger() override { return _logger; }
    Store& store() override;
    EventBus& bus() override { return _bus; }
    Lua& lua() override { return _lua; }
    Metrics& metrics() override { return _metrics; }
    Services& services() override { return *_host.services; }
    std::string dataDir() const override { return _host.dataDir; }
    std::uint64_t every(std::chrono::milliseconds interval, std::function<void()> task) override;
    void cancelTimer(std::uint64_t id) override;
    bool work(std::function<void()> task) override;
    /// Ends the plugin's timers, bus subscriptions and gauges, waiting for a timer task or bus
    /// handler that is running and for its work-pool tasks (before Plugin::stop()).
    void release();

private:
    std::string _name;
    HostServices& _host;
    Poco::Logger& _logger;
    PluginBus _bus;
    PluginLua _lua;
    PluginMetrics _metrics;
};

}  // namespace switchboard
