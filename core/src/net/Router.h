// The route table of one listener: method + path patterns with {params}, built once and then
// read concurrently by every connection thread (a reload builds a new table and swaps it).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "switchboard/Http.h"
#include "switchboard/WebSocket.h"

namespace switchboard {

class RouteMetrics;

/// Two owners mounted the same method+path on one listener.
class RouteConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One mounted route. Either `handler` (HTTP) or `webSocket` is set.
struct RouteEntry {
    std::string method;
    std::string pattern;
    std::string owner;  ///< plugin name, or "host"
    HttpHandler handler;
    bool nonBlocking = false;  ///< runs on the event loop (Route::nonBlocking)
    std::shared_ptr<WebSocketHandler> webSocket;
    std::shared_ptr<RouteMetrics> metrics;
    RouteDoc doc;                       ///< for the OpenAPI documents
    std::vector<std::string> segments;  ///< pattern split on '/', "{x}" kept as is
    bool hasParams = false;
};

using RouteParams = std::vector<std::pair<std::string, std::string>>;

class RouteTable {
public:
    explicit RouteTable(std::string listener) : _listener(std::move(listener)) {}

    /// Adds a route. Throws RouteConflict "<listener>: METHOD /path is mounted by both A and B"
    /// if that method and pattern are taken, std::invalid_argument for a malformed pattern.
    void add(RouteEntry entry);

    struct Match {
        const RouteEntry* entry = nullptr;
        bool pathKnown = false;  ///< some route has this path (so a miss is 405, not 404)
    };
    /// Finds the route for method + path, filling `params` for {name} segments.
    Match match(std::string_view method, const std::string& path, RouteParams& params) const;

    const std::vector<std::shared_ptr<RouteEntry>>& entries() const { return _entries; }
    const std::string& listener() const { return _listener; }

private:
    static bool matchPattern(const RouteEntry& entry, std::string_view path, RouteParams& params);

    std::string _listener;
    std::vector<std::shared_ptr<RouteEntry>> _entries;
    /// Exact (parameterless) paths -> routes on that path.
    std::unordered_map<std::string, std::vector<const RouteEntry*>> _exact;
    std::vector<const RouteEntry*> _patterns;
};

}  // namespace switchboard
