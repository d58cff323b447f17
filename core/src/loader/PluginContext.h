// The HostContext one plugin gets: host services seen through the plugin's name (logger,
// metric prefix, timers and bus subscriptions that are cleaned up when the plugin stops).
#pragma once

#include <mutex>
#include <set>

#include "services/MetricsRegistry.h"
#include "services/ServiceRegistry.h"
#include "services/TimerService.h"
#include "switchboard/HostContext.h"

namespace switchboard {

/// The host services every plugin context points at.
struct HostServices {
    Store* store = nullptr;
    EventBus* bus = nullptr;
    Lua* lua = nullptr;
    MetricsRegistry* metrics = nullptr;
    ServiceRegistry* services = nullptr;
    TimerService* timers = nullptr;
    std::string dataDir;
};

/// The bus as a plugin sees it: remembers subscriptions so they end with the plugin.
class PluginBus : public EventBus {
public:
    explicit PluginBus(EventBus& bus) : _bus(bus) {}
    void publish(const std::string& topic, std::string payloadJson) override;
    std::uint64_t subscribe(const std::string& pattern, Handler handler) override;
    void unsubscribe(std::uint64_t id) override;
    BusStats stats() const override { return _bus.stats(); }
    void unsubscribeAll();

private:
    EventBus& _bus;
    std::mutex _mutex;
    std::set<std::uint64_t> _ids;
};

class PluginContext : public HostContext {
public:
    PluginContext(std::string name, HostServices& host);
    const std::string& pluginName() const override { return _name; }
    Poco::Logger& logger() override { return _logger; }
    Store& store() override;
    EventBus& bus() override { return _bus; }
    Lua& lua() override { return *_host.lua; }
    Metrics& metrics() override { return _metrics; }
    Services& services() override { return *_host.services; }
    std::string dataDir() const override { return _host.dataDir; }
    std::uint64_t every(std::chrono::milliseconds interval, std::function<void()> task) override;
    void cancelTimer(std::uint64_t id) override;
    /// Ends the plugin's timers, bus subscriptions and gauges, waiting for a timer task or bus
    /// handler that is running (before Plugin::stop()).
    void release();

private:
    std::string _name;
    HostServices& _host;
    Poco::Logger& _logger;
    PluginBus _bus;
    PluginMetrics _metrics;
};

}  // namespace switchboard
