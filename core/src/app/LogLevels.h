// Log levels per plugin (and per host subsystem) changed at runtime through the admin API:
// GET /admin/api/log-levels, PUT and DELETE /admin/api/log-levels/{name}.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "switchboard/Http.h"

namespace switchboard {

/// Owned by the Host. An override set here stays through reloads (reapply() runs after the
/// reload set server.log.level again) until DELETE removes it or the process ends.
class LogLevels {
public:
    /// `plugins` lists the plugin names an operator may address (any state).
    explicit LogLevels(std::function<std::vector<std::string>()> plugins);

    /// The routes, unguarded (the AdminApi guards them).
    std::vector<Route> routes();
    /// Sets the configured level (start, reload) and then every override again.
    void apply(const std::string& configuredLevel);

private:
    /// "switchboard.<name>" if `name` is a plugin or host subsystem, else "".
    std::string loggerOf(const std::string& name) const;
    void list(HttpResponse& resp);
    void set(const HttpRequest& req, HttpResponse& resp);
    void reset(const HttpRequest& req, HttpResponse& resp);
    void answer(HttpResponse& resp, const std::string& name);

    std::function<std::vector<std::string>()> _plugins;
    std::mutex _mutex;
    std::string _configured = "information";
    std::map<std::string, std::string> _overrides;  ///< name -> level
};

}  // namespace switchboard
