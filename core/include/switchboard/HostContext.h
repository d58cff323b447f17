// Everything a plugin sees of the host. Grow this interface rather than include core internals.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "switchboard/EventBus.h"
#include "switchboard/Lua.h"
#include "switchboard/Metrics.h"
#include "switchboard/Services.h"
#include "switchboard/Store.h"

namespace Poco {
class Logger;
}

namespace switchboard {

class HostContext {
public:
    virtual ~HostContext() = default;
    /// The plugin's config key, e.g. "pairing".
    virtual const std::string& pluginName() const = 0;
    /// Logger "switchboard.<plugin>".
    virtual Poco::Logger& logger() = 0;
    virtual Store& store() = 0;
    virtual EventBus& bus() = 0;
    virtual Lua& lua() = 0;
    /// Metrics named switchboard_<plugin>_*.
    virtual Metrics& metrics() = 0;
    virtual Services& services() = 0;
    /// The server's data directory (server.data_dir), absolute.
    virtual std::string dataDir() const = 0;
    /// Runs `task` every `interval` on the host's timer thread until the plugin stops.
    /// Exceptions are logged. Returns an id for cancelTimer().
    virtual std::uint64_t every(std::chrono::milliseconds interval, std::function<void()> task) = 0;
    virtual void cancelTimer(std::uint64_t id) = 0;
};

}  // namespace switchboard
