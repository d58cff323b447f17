// The host's Lua engine: loads operator scripts into sandboxed states (one per thread), calls
// hooks under instruction and memory budgets, reloads scripts, and feeds bus events to on_event.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/KeyValueStore.h"
#include "switchboard/EventBus.h"
#include "switchboard/Lua.h"

namespace switchboard {

class LuaState;
class LuaStatePool;

/// The `lua:` config section.
struct LuaOptions {
    std::vector<std::string> scripts;            ///< file paths, loaded in this order
    std::uint64_t instructionBudget = 1000000;   ///< per call (and per script at load)
    std::size_t memoryLimit = 32 * 1024 * 1024;  ///< per state, bytes
};

/// Scripts that cannot be read, compiled or run. what() names the file and, where Lua knows it,
/// the line: "etc/lua/hooks.lua:12: unexpected symbol near 'end'".
class LuaLoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Owned by the host for the whole run and handed to plugins as `Lua`. call() and hasHook() may
/// run on any number of threads at once; load(), reload() and shutdown() are serialised with
/// each other and may run while calls are in flight. The store and bus must outlive the engine
/// (or its shutdown()).
class LuaEngine : public Lua {
public:
    struct Stats {
        std::uint64_t calls = 0;
        std::uint64_t errors = 0;  ///< calls that returned ok=false, for whatever reason
        std::uint64_t budgetExceeded = 0;
        std::uint64_t memoryExceeded = 0;
        std::uint64_t generation = 0;  ///< +1 per successful load; 0 when nothing is loaded
        std::uint64_t states = 0;      ///< Lua states alive (about one per calling thread)
    };

    /// Either may be null: scripts then get the Lua error "store not available" or
    /// "bus not available" from store.* or bus.*.
    LuaEngine(KeyValueStore* kv, EventBus* bus);
    /// Calls shutdown().
    ~LuaEngine() override;
    LuaEngine(const LuaEngine&) = delete;
    LuaEngine& operator=(const LuaEngine&) = delete;

    /// Compiles and runs every script in a fresh sandboxed state; on success they become the
    /// current scripts (each thread switches to a new state at its next call) and the bus
    /// subscriptions are replaced by the ones the new scripts make. On failure throws
    /// LuaLoadError and the previous scripts stay in force.
    void load(const LuaOptions& options);
    /// load() with the current options (files re-read from disk).
    void reload();
    /// True if the loaded scripts define a global function `name`. Does not touch Lua.
    bool hasHook(const std::string& name) const override;
    /// Calls a hook in this thread's state. Never throws. On failure ok is false, values is
    /// empty, error says why, and the failure is logged (except "hook not defined").
    LuaResult call(const std::string& name,
                   const std::vector<const rapidjson::Value*>& args) override {
        return call(name, args, "");
    }
    /// call() on behalf of plugin `caller`: failures are logged on "switchboard.<caller>"
    /// ("switchboard.lua" for "").
    LuaResult call(const std::string& name, const std::vector<const rapidjson::Value*>& args,
                   const std::string& caller);
    /// Unsubscribes from the bus and drops the scripts and states (a state in use by a call is
    /// dropped when that call returns). Idempotent; load() may be called again afterwards.
    void shutdown();
    Stats stats() const;

private:
    struct Generation;

    std::shared_ptr<const Generation> current() const;
    std::shared_ptr<const Generation> check(const LuaOptions& options);
    std::vector<std::uint64_t> subscribe(const Generation& generation);
    void unsubscribe(const std::vector<std::uint64_t>& ids);
    /// This thread's state for the current generation, created if needed; null (and `error`
    /// set) if nothing is loaded or the scripts fail on this thread.
    std::shared_ptr<LuaState> threadState(std::string& error);
    void deliver(std::uint64_t generation, const Event& event);

    KeyValueStore* _kv;
    EventBus* _bus;
    const std::uint64_t _id;
    std::shared_ptr<LuaStatePool> _pool;

    std::mutex _loadMutex;  ///< serialises load, reload and shutdown
    LuaOptions _options;
    std::uint64_t _lastGeneration = 0;
    std::vector<std::uint64_t> _subscriptions;

    mutable std::mutex _currentMutex;
    std::shared_ptr<const Generation> _current;
    std::atomic<std::uint64_t> _generation{0};

    std::atomic<std::uint64_t> _calls{0};
    std::atomic<std::uint64_t> _errors{0};
    std::atomic<std::uint64_t> _budgetExceeded{0};
    std::atomic<std::uint64_t> _memoryExceeded{0};
};

}  // namespace switchboard
