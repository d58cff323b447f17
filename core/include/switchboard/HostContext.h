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

/// One per running plugin instance, handed to Plugin::start(); valid until the plugin's stop()
/// returns. Every method is thread-safe and may be called from handlers, timers and bus
/// handlers.
class HostContext {
public:
    virtual ~HostContext() = default;
    /// The plugin's config key, e.g. "pairing".
    virtual const std::string& pluginName() const = 0;
    /// Logger "switchboard.<plugin>".
    virtual Poco::Logger& logger() = 0;
    /// The server's one SQL store (SQLite or PostgreSQL), shared by every plugin; each plugin
    /// owns the tables its migrations create.
    virtual Store& store() = 0;
    /// The event bus. Subscriptions made through it end when the plugin stops, and handler
    /// failures are logged on the plugin's logger.
    virtual EventBus& bus() = 0;
    /// The operator's Lua hooks; failures are logged on the plugin's logger.
    virtual Lua& lua() = 0;
    /// Metrics named switchboard_<plugin>_*; gauges are removed when the plugin stops.
    virtual Metrics& metrics() = 0;
    /// Interfaces plugins provide to each other (e.g. "accounts", see Accounts.h).
    virtual Services& services() = 0;
    /// The server's data directory (server.data_dir), absolute.
    virtual std::string dataDir() const = 0;
    /// Runs `task` every `interval` on the host's timer thread until cancelled or the plugin
    /// stops (before its stop() is called). Exceptions are logged. Returns an id for
    /// cancelTimer().
    virtual std::uint64_t every(std::chrono::milliseconds interval, std::function<void()> task) = 0;
    /// Cancels a timer; when it returns the task is not running and never runs again (called
    /// from the task itself, the running call finishes). Unknown ids are ignored.
    virtual void cancelTimer(std::uint64_t id) = 0;
    /// Runs `task` on the host's work pool: for blocking work (password hashing, store writes)
    /// that an event-loop callback must not do itself. Returns false, without running it, when
    /// the pool's queue is full (server.work_queue): answer "busy" rather than wait. Exceptions
    /// are logged on the plugin's logger. Tasks queued or running when the plugin stops finish
    /// before its stop() is called.
    virtual bool work(std::function<void()> task) = 0;
};

}  // namespace switchboard
