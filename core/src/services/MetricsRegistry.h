// Process-wide metrics: counters, gauges and per-route HTTP histograms, rendered in the
// Prometheus text exposition format for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchboard/Metrics.h"

namespace switchboard {

/// Request count by status class and a latency histogram for one route. Lock-free updates.
class RouteMetrics {
public:
    static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
    using Buckets = std::array<std::uint64_t, kBuckets.size() + 1>;
    RouteMetrics(std::string listener, std::string method, std::string route);
    void observe(int status, std::uint64_t micros);
    /// Requests so far in each latency bucket (not cumulative; the last is beyond kBuckets).
    Buckets buckets() const;
    const std::string& listener() const { return _listener; }
    const std::string& method() const { return _method; }
    const std::string& route() const { return _route; }
    /// Appends the switchboard_http_requests_total lines.
    void render(std::string& out) const;
    /// Appends the switchboard_http_request_duration_seconds lines.
    void renderHistogram(std::string& out) const;
    /// Requests answered with a status of class `cls` (2 for 2xx, ...).
    std::uint64_t count(int cls) const { return _byClass[cls].load(std::memory_order_relaxed); }

private:
    std::string _listener;
    std::string _method;
    std::string _route;
    std::string _labels;
    std::array<std::atomic<std::uint64_t>, 6> _byClass{};
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> _buckets{};
    std::atomic<std::uint64_t> _sumMicros{0};
};

class MetricsRegistry {
public:
    Counter& counter(const std::string& name, const std::string& help, const std::string& labels);
    /// `owner` lets all gauges of a stopping plugin be removed at once.
    void gauge(const std::string& owner, const std::string& name, const std::string& help,
               std::function<double()> read, const std::string& labels);
    void removeGauges(const std::string& owner);
    /// The metrics object of a route; the same object for the same listener+method+route, so
    /// counts survive route table rebuilds.
    std::shared_ptr<RouteMetrics> route(const std::string& listener, const std::string& method,
                                        const std::string& route);
    /// Adds a function that appends its own exposition lines at scrape time (host metrics
    /// whose label sets change, e.g. plugin states). Collectors are called without the
    /// registry's lock; gauges' read functions under it (a read must not wait for a lock held
    /// while metrics are registered).
    void addCollector(std::function<void(std::string&)> collector);
    std::string render() const;
    /// Calls `fn` for every route's metrics (under the registry's lock; do not call back).
    void forEachRoute(const std::function<void(const RouteMetrics&)>& fn) const;

private:
    std::vector<std::function<void(std::string&)>> _collectors;
    struct Family {
        std::string help;
        std::string type;
        std::map<std::string, std::unique_ptr<Counter>> counters;  // by labels
        struct Gauge {
            std::string owner;
            std::function<double()> read;
        };
        std::map<std::string, Gauge> gauges;  // by labels
    };
    mutable std::mutex _mutex;
    std::map<std::string, Family> _families;
    std::map<std::string, std::shared_ptr<RouteMetrics>> _routes;
};

/// The Metrics a plugin sees: names prefixed "switchboard_<plugin>_".
class PluginMetrics : public Metrics {
public:
    PluginMetrics(MetricsRegistry& registry, std::string plugin);
    Counter& counter(const std::string& name, const std::string& help,
                     const std::string& labels) override;
    void gauge(const std::string& name, const std::string& help, std::function<double()> read,
               const std::string& labels) override;

private:
    MetricsRegistry& _registry;
    std::string _plugin;
    std::string _prefix;
};

}  // namespace switchboard
