// Route assembly: turns a plugin plan into what each listener mounts (route tables for HTTP
// listeners, the stream handler of stream listeners), with the host's own routes, the admin
// guard, per-route metrics, and a count of the requests inside each plugin's handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/ListenerOptions.h"
#include "net/Router.h"
#include "switchboard/Stream.h"

namespace switchboard {

class AdminApi;
class MetricsRegistry;
struct PluginPlan;

/// What one plan mounts.
struct Mounts {
    std::map<std::string, std::shared_ptr<RouteTable>> tables;      ///< by HTTP listener
    std::map<std::string, std::shared_ptr<StreamHandler>> streams;  ///< by stream listener
    std::map<std::string, std::string> streamOwners;                ///< listener -> plugin
};

/// Owned by the Host. build() may run on any thread while requests run; waitForRequests() is
/// how a reload lets a plugin's requests finish before the plugin stops.
class RouteAssembler {
public:
    /// `hostRoutes` are mounted on every HTTP listener (owner "host").
    RouteAssembler(MetricsRegistry& metrics, AdminApi& admin, std::vector<Route> hostRoutes);

    /// Builds what `plan`'s enabled plugins mount; the routes of those named in `exclude` (about
    /// to stop) answer 503 with Retry-After instead, and their stream listeners take no one.
    /// Resolves protocol "auto" of `listeners` in place (stream if a plugin mounts a stream
    /// handler there, else http). Admin routes go under /admin/api/<plugin> on
    /// `adminListener`, behind the admin token. Problems (route conflicts, a protocol that
    /// cannot serve what is mounted) are appended to `errors`, prefixed with `file`.
    Mounts build(const std::string& file, const std::string& adminListener,
                 std::map<std::string, ListenerOptions>& listeners, const PluginPlan& plan,
                 std::vector<std::string>& errors, const std::set<std::string>& exclude = {});

    /// Waits until no request runs inside `plugin`'s handlers or `deadline` passes. Returns how
    /// many still run (0: none).
    int waitForRequests(const std::string& plugin, std::chrono::steady_clock::time_point deadline);

private:
    std::shared_ptr<std::atomic<int>> inflight(const std::string& plugin);

    MetricsRegistry& _metrics;
    AdminApi& _admin;
    std::vector<Route> _hostRoutes;
    std::mutex _inflightMutex;
    std::map<std::string, std::shared_ptr<std::atomic<int>>> _inflight;
};

}  // namespace switchboard
