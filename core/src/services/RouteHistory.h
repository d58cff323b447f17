// A short in-memory history of the per-route HTTP metrics for the console's charts: every
// interval, each route's request count and estimated p99 latency over that interval, kept for a
// fixed number of intervals (default 10 s x 90 = 15 min). Served at /admin/api/metrics/history.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "services/MetricsRegistry.h"

namespace switchboard {

/// Thread-safe: sample() runs on the timer thread, json() on request threads.
class RouteHistory {
public:
    RouteHistory(MetricsRegistry& metrics, std::chrono::milliseconds interval, std::size_t samples);
    /// Takes one sample of every route at `now` (epoch seconds): what happened since the last.
    void sample(double now);
    /// {"interval": s, "samples": n, "routes": [{"listener", "method", "route", "points":
    /// [{"time", "requests", "rate", "p99"}]}]}, oldest point first; routes that saw no request
    /// in the window are left out. p99 is in seconds, null for an interval without requests.
    std::string json() const;
    std::chrono::milliseconds interval() const { return _interval; }

    /// The 99th percentile (seconds) of the requests counted in `delta`, interpolated within
    /// its bucket as Prometheus' histogram_quantile does; the last bucket answers its lower
    /// bound. -1 when `delta` holds no request.
    static double p99(const RouteMetrics::Buckets& delta);

private:
    struct Point {
        double time;
        std::uint64_t requests;
        double p99;
    };
    struct Series {
        std::string listener, method, route;
        RouteMetrics::Buckets last{};
        std::deque<Point> points;
    };
    MetricsRegistry& _metrics;
    std::chrono::milliseconds _interval;
    std::size_t _samples;
    mutable std::mutex _mutex;
    std::map<std::string, Series> _series;
};

}  // namespace switchboard
