// Metrics storage and Prometheus text rendering (see MetricsRegistry.h).
#include "services/MetricsRegistry.h"

#include <cstdio>

namespace switchboard {

namespace {

std::string formatDouble(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string escapeLabel(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
        }
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string withLabels(const std::string& name, const std::string& labels) {
    return labels.empty() ? name : name + "{" + labels + "}";
}

}  // namespace

RouteMetrics::RouteMetrics(std::string listener, std::string method, std::string route)
    : _listener(listener),
      _method(method),
      _route(route),
      _labels("listener=\"" + escapeLabel(listener) + "\",method=\"" + escapeLabel(method) +
              "\",route=\"" + escapeLabel(route) + "\"") {}

void RouteMetrics::observe(int status, std::uint64_t micros) {
    int cls = status / 100;
    if (cls < 1 || cls > 5) {
        cls = 5;
    }
    _byClass[cls].fetch_add(1, std::memory_order_relaxed);
    double seconds = static_cast<double>(micros) / 1e6;
    std::size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) {
        ++i;
    }
    _buckets[i].fetch_add(1, std::memory_order_relaxed);
    _sumMicros.fetch_add(micros, std::memory_order_relaxed);
}

RouteMetrics::Buckets RouteMetrics::buckets() const {
    Buckets out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = _buckets[i].load(std::memory_order_relaxed);
    }
    return out;
}

void RouteMetrics::render(std::string& out) const {
    for (int cls = 1; cls <= 5; ++cls) {
        std::uint64_t n = _byClass[cls].load(std::memory_order_relaxed);
        if (n > 0) {
            out += "switchboard_http_requests_total{" + _labels + ",code=\"" + std::to_string(cls) +
                   "xx\"} " + std::to_string(n) + "\n";
        }
    }
}

void RouteMetrics::renderHistogram(std::string& out) const {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= kBuckets.size(); ++i) {
        cumulative += _buckets[i].load(std::memory_order_relaxed);
        std::string le = i < kBuckets.size() ? formatDouble(kBuckets[i]) : "+Inf";
        out += "switchboard_http_request_duration_seconds_bucket{" + _labels + ",le=\"" + le +
               "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "switchboard_http_request_duration_seconds_sum{" + _labels + "} " +
           formatDouble(static_cast<double>(_sumMicros.load(std::memory_order_relaxed)) / 1e6) +
           "\n";
    out += "switchboard_http_request_duration_seconds_count{" + _labels + "} " +
           std::to_string(cumulative) + "\n";
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const std::string& labels) {
    std::lock_guard<std::mutex> lock(_mutex);
    Family& family = _families[name];
    family.help = help;
    family.type = "counter";
    auto& slot = family.counters[labels];
    if (!slot) {
        slot = std::make_unique<Counter>();
    }
    return *slot;
}

void MetricsRegistry::gauge(const std::string& owner, const std::string& name,
                            const std::string& help, std::function<double()> read,
                            const std::string& labels) {
    std::lock_guard<std::mutex> lock(_mutex);
    Family& family = _families[name];
    family.help = help;
    family.type = "gauge";
    family.gauges[labels] = Family::Gauge{owner, std::move(read)};
}

void MetricsRegistry::removeGauges(const std::string& owner) {
    std::lock_guard<std::mutex> lock(_mutex);
    for (auto& [name, family] : _families) {
        for (auto it = family.gauges.begin(); it != family.gauges.end();) {
            it = it->second.owner == owner ? family.gauges.erase(it) : std::next(it);
        }
    }
}

std::shared_ptr<RouteMetrics> MetricsRegistry::route(const std::string& listener,
                                                     const std::string& method,
                                                     const std::string& route) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto& slot = _routes[listener + " " + method + " " + route];
    if (!slot) {
        slot = std::make_shared<RouteMetrics>(listener, method, route);
    }
    return slot;
}

void MetricsRegistry::addCollector(std::function<void(std::string&)> collector) {
    std::lock_guard<std::mutex> lock(_mutex);
    _collectors.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
    // Collectors run without the registry's lock: they read host parts that take their own
    // locks (the plugin manager's), and those parts register metrics while holding them (a
    // plugin starting under the manager's lock). Calling them under ours was a lock-order
    // inversion a scrape during a reload could deadlock on (ThreadSanitizer found it).
    // Collectors are host parts, added once and never removed.
    std::vector<std::function<void(std::string&)>> collectors;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        collectors = _collectors;
    }
    std::string out;
    for (const auto& collector : collectors) {
        collector(out);
    }
    std::lock_guard<std::mutex> lock(_mutex);
    for (const auto& [name, family] : _families) {
        if (family.counters.empty() && family.gauges.empty()) {
            continue;
        }
        out += "# HELP " + name + " " + family.help + "\n# TYPE " + name + " " + family.type + "\n";
        for (const auto& [labels, counter] : family.counters) {
            out += withLabels(name, labels) + " " + std::to_string(counter->value()) + "\n";
        }
        for (const auto& [labels, gauge] : family.gauges) {
            double value = 0;
            try {
                value = gauge.read();
            } catch (...) {
                continue;  // a gauge whose source is gone is skipped, not fatal
            }
            out += withLabels(name, labels) + " " + formatDouble(value) + "\n";
        }
    }
    if (!_routes.empty()) {
        out += "# HELP switchboard_http_requests_total HTTP requests by route and status class\n";
        out += "# TYPE switchboard_http_requests_total counter\n";
        for (const auto& [key, route] : _routes) {
            route->render(out);
        }
        out += "# HELP switchboard_http_request_duration_seconds HTTP request latency by route\n";
        out += "# TYPE switchboard_http_request_duration_seconds histogram\n";
        for (const auto& [key, route] : _routes) {
            route->renderHistogram(out);
        }
    }
    return out;
}

PluginMetrics::PluginMetrics(MetricsRegistry& registry, std::string plugin)
    : _registry(registry), _plugin(std::move(plugin)), _prefix("switchboard_" + _plugin + "_") {}

Counter& PluginMetrics::counter(const std::string& name, const std::string& help,
                                const std::string& labels) {
    return _registry.counter(_prefix + name, help, labels);
}

void PluginMetrics::gauge(const std::string& name, const std::string& help,
                          std::function<double()> read, const std::string& labels) {
    _registry.gauge(_plugin, _prefix + name, help, std::move(read), labels);
}

void MetricsRegistry::forEachRoute(const std::function<void(const RouteMetrics&)>& fn) const {
    std::lock_guard<std::mutex> lock(_mutex);
    for (const auto& [key, route] : _routes) {
        fn(*route);
    }
}

}  // namespace switchboard
