// Per-route request history (see RouteHistory.h).
#include "services/RouteHistory.h"

#include <cstdio>

#include "switchboard/Json.h"

namespace switchboard {

RouteHistory::RouteHistory(MetricsRegistry& metrics, std::chrono::milliseconds interval,
                           std::size_t samples)
    : _metrics(metrics), _interval(interval), _samples(samples == 0 ? 1 : samples) {}

double RouteHistory::p99(const RouteMetrics::Buckets& delta) {
    std::uint64_t total = 0;
    for (std::uint64_t n : delta) {
        total += n;
    }
    if (total == 0) {
        return -1;
    }
    double rank = 0.99 * static_cast<double>(total);
    double below = 0;
    for (std::size_t i = 0; i < delta.size(); ++i) {
        double lower = i == 0 ? 0.0 : RouteMetrics::kBuckets[i - 1];
        if (i == RouteMetrics::kBuckets.size()) {
            return lower;  // beyond the last bound: all that is known is "at least"
        }
        double in = static_cast<double>(delta[i]);
        if (below + in >= rank && in > 0) {
            double upper = RouteMetrics::kBuckets[i];
            return lower + (upper - lower) * (rank - below) / in;
        }
        below += in;
    }
    return RouteMetrics::kBuckets.back();
}

void RouteHistory::sample(double now) {
    std::lock_guard<std::mutex> lock(_mutex);
    _metrics.forEachRoute([&](const RouteMetrics& route) {
        std::string key = route.listener() + " " + route.method() + " " + route.route();
        auto [it, added] = _series.try_emplace(key);
        Series& s = it->second;
        RouteMetrics::Buckets current = route.buckets();
        if (added) {
            s.listener = route.listener();
            s.method = route.method();
            s.route = route.route();
        }
        RouteMetrics::Buckets delta{};
        std::uint64_t requests = 0;
        for (std::size_t i = 0; i < delta.size(); ++i) {
            delta[i] = current[i] - s.last[i];
            requests += delta[i];
        }
        s.last = current;
        s.points.push_back({now, requests, p99(delta)});
        while (s.points.size() > _samples) {
            s.points.pop_front();
        }
    });
}

std::string RouteHistory::json() const {
    double seconds = static_cast<double>(_interval.count()) / 1000.0;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("interval");
    w.Double(seconds);
    w.Key("samples");
    w.Uint64(_samples);
    w.Key("routes");
    w.StartArray();
    std::lock_guard<std::mutex> lock(_mutex);
    for (const auto& [key, s] : _series) {
        bool seen = false;
        for (const auto& p : s.points) {
            seen = seen || p.requests > 0;
        }
        if (!seen) {
            continue;
        }
        w.StartObject();
        w.Key("listener");
        w.String(s.listener.c_str());
        w.Key("method");
        w.String(s.method.c_str());
        w.Key("route");
        w.String(s.route.c_str());
        w.Key("points");
        w.StartArray();
        for (const auto& p : s.points) {
            w.StartObject();
            w.Key("time");
            w.Double(p.time);
            w.Key("requests");
            w.Uint64(p.requests);
            w.Key("rate");
            w.Double(static_cast<double>(p.requests) / seconds);
            w.Key("p99");
            if (p.p99 < 0) {
                w.Null();
            } else {
                w.Double(p.p99);
            }
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buffer.GetString();
}

}  // namespace switchboard
