// The host's Lua engine: script generations, per-thread states, bus subscriptions
// (see LuaEngine.h).
#include "lua/LuaEngine.h"

#include <Poco/Logger.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "lua/LuaState.h"

namespace switchboard {

/// The scripts in force and what loading them found out. Immutable once published.
struct LuaEngine::Generation {
    std::uint64_t number = 0;
    LuaOptions options;
    std::vector<LuaScript> scripts;
    std::unordered_set<std::string> hooks;
    std::vector<std::string> patterns;
};

/// Owns the states of one engine's current generation, so that shutdown and reload can drop
/// them although each lives in a thread's cache. Threads hold weak references; a thread in a
/// call holds a strong one, so a state is destroyed only when no call uses it.
class LuaStatePool {
public:
    /// Accepts states of `generation` only and drops every state held.
    void reset(std::uint64_t generation) {
        std::vector<std::shared_ptr<LuaState>> dropped;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _generation = generation;
            dropped.swap(_states);
        }
    }
    /// Keeps `state` if it belongs to the current generation.
    void adopt(const std::shared_ptr<LuaState>& state) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (state->generation() == _generation) {
            _states.push_back(state);
        }
    }
    void release(const LuaState* state) {
        std::shared_ptr<LuaState> dropped;
        std::lock_guard<std::mutex> lock(_mutex);
        auto it = std::find_if(_states.begin(), _states.end(),
                               [state](const auto& held) { return held.get() == state; });
        if (it != _states.end()) {
            dropped = std::move(*it);
            _states.erase(it);
        }
    }
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _states.size();
    }

private:
    mutable std::mutex _mutex;
    std::uint64_t _generation = 0;
    std::vector<std::shared_ptr<LuaState>> _states;
};

namespace {

std::atomic<std::uint64_t> nextEngineId{1};

/// A thread's state for one engine.
struct ThreadSlot {
    std::uint64_t engine;
    std::weak_ptr<LuaStatePool> pool;
    std::weak_ptr<LuaState> state;
    /// Hook names of generation `hooksGeneration`, so hasHook() needs no lock per request.
    std::uint64_t hooksGeneration = 0;
    std::shared_ptr<const std::unordered_set<std::string>> hooks;
};

/// The states this thread uses; on thread exit they are handed back to their pools.
class ThreadCache {
public:
    ThreadCache() = default;
    ThreadCache(const ThreadCache&) = delete;
    ThreadCache& operator=(const ThreadCache&) = delete;
    ~ThreadCache() {
        for (ThreadSlot& slot : _slots) {
            std::shared_ptr<LuaStatePool> pool = slot.pool.lock();
            std::shared_ptr<LuaState> state = slot.state.lock();
            if (pool && state) {
                pool->release(state.get());
            }
        }
    }
    ThreadSlot& slot(std::uint64_t engine, const std::shared_ptr<LuaStatePool>& pool) {
        for (ThreadSlot& slot : _slots) {
            if (slot.engine == engine) {
                return slot;
            }
        }
        _slots.erase(std::remove_if(_slots.begin(), _slots.end(),
                                    [](const ThreadSlot& slot) { return slot.pool.expired(); }),
                     _slots.end());
        _slots.push_back({engine, pool, {}, 0, nullptr});
        return _slots.back();
    }
    /// True while this thread runs the scripts of a new state.
    bool building = false;

private:
    std::vector<ThreadSlot> _slots;
};

/// Marks the thread as building a state until the scope ends.
class BuildingScope {
public:
    explicit BuildingScope(bool& flag) : _flag(flag) { _flag = true; }
    ~BuildingScope() { _flag = false; }
    BuildingScope(const BuildingScope&) = delete;
    BuildingScope& operator=(const BuildingScope&) = delete;

private:
    bool& _flag;
};

thread_local ThreadCache threadCache;

Poco::Logger& logger() {
    return Poco::Logger::get("switchboard.lua");
}

std::string readScript(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw LuaLoadError(path + ": cannot read the script (" + std::strerror(errno) + ")");
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw LuaLoadError(path + ": cannot read the script");
    }
    return text.str();
}

/// The logger of the plugin calling a hook ("switchboard.lua" when the host calls).
Poco::Logger& callerLogger(const std::string& caller) {
    return caller.empty() ? logger() : Poco::Logger::get("switchboard." + caller);
}

/// For failures outside Lua (no memory for a state, ...); must not throw from call().
void logFailure(const std::string& caller, const std::string& hook,
                const std::string& error) noexcept {
    try {
        callerLogger(caller).warning("Lua hook %s failed: %s", hook, error);
    } catch (...) {
    }
}

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) {
        text += (text.empty() ? "" : ", ") + item;
    }
    return text.empty() ? "none" : text;
}

}  // namespace

LuaEngine::LuaEngine(KeyValueStore* kv, EventBus* bus)
    : _kv(kv), _bus(bus), _id(nextEngineId++), _pool(std::make_shared<LuaStatePool>()) {}

LuaEngine::~LuaEngine() {
    try {
        shutdown();
    } catch (...) {
        // Destructors do not throw; shutdown() already logs what it cannot undo.
    }
}

void LuaEngine::load(const LuaOptions& options) {
    std::lock_guard<std::mutex> lock(_loadMutex);
    std::shared_ptr<const Generation> generation = check(options);
    std::vector<std::uint64_t> subscriptions = subscribe(*generation);
    // New handlers ignore events until the generation switches; old ones ignore them after.
    {
        std::lock_guard<std::mutex> currentLock(_currentMutex);
        _current = generation;
    }
    _generation.store(generation->number, std::memory_order_release);
    _lastGeneration = generation->number;
    _options = options;
    _pool->reset(generation->number);
    unsubscribe(_subscriptions);
    _subscriptions = std::move(subscriptions);

    std::vector<std::string> hooks(generation->hooks.begin(), generation->hooks.end());
    std::sort(hooks.begin(), hooks.end());
    logger().information("loaded " + std::to_string(generation->scripts.size()) +
                         " Lua script(s), generation " + std::to_string(generation->number) +
                         "; functions: " + joined(hooks) +
                         "; subscribed: " + joined(generation->patterns));
}

void LuaEngine::reload() {
    LuaOptions options;
    {
        std::lock_guard<std::mutex> lock(_loadMutex);
        options = _options;
    }
    load(options);
}

bool LuaEngine::hasHook(const std::string& name) const {
    std::uint64_t number = _generation.load(std::memory_order_acquire);
    if (number == 0) {
        return false;  // nothing loaded, or shut down
    }
    ThreadSlot& slot = threadCache.slot(_id, _pool);
    if (slot.hooksGeneration != number) {
        // Scripts changed since this thread last looked: take the lock once to refresh.
        std::shared_ptr<const Generation> generation = current();
        slot.hooksGeneration = generation ? generation->number : 0;
        slot.hooks = generation ? std::shared_ptr<const std::unordered_set<std::string>>(
                                      generation, &generation->hooks)
                                : nullptr;
    }
    return slot.hooks && slot.hooks->count(name) != 0;
}

LuaResult LuaEngine::call(const std::string& name, const std::vector<const rapidjson::Value*>& args,
                          const std::string& caller) {
    LuaResult result;
    _calls.fetch_add(1, std::memory_order_relaxed);
    try {
        std::string error;
        std::shared_ptr<LuaState> state = threadState(error);
        if (!state) {
            result.error = error;
        } else {
            switch (state->call(name, args, result)) {
                case LuaState::Outcome::Ok:
                case LuaState::Outcome::Undefined:
                    break;
                case LuaState::Outcome::BudgetExceeded:
                    _budgetExceeded.fetch_add(1, std::memory_order_relaxed);
                    callerLogger(caller).warning("Lua hook %s: instruction budget exceeded at %s",
                                                 name, std::string(state->budgetWhere()));
                    break;
                case LuaState::Outcome::MemoryExceeded:
                    _memoryExceeded.fetch_add(1, std::memory_order_relaxed);
                    callerLogger(caller).warning("Lua hook %s: memory limit exceeded", name);
                    break;
                case LuaState::Outcome::Failed:
                    callerLogger(caller).warning("Lua hook %s failed: %s", name, result.error);
                    break;
            }
        }
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = e.what();
        logFailure(caller, name, result.error);
    } catch (...) {
        result.ok = false;
        result.error = "unknown error";
        logFailure(caller, name, result.error);
    }
    if (!result.ok) {
        _errors.fetch_add(1, std::memory_order_relaxed);
        result.values.SetArray();
    }
    return result;
}

void LuaEngine::shutdown() {
    std::lock_guard<std::mutex> lock(_loadMutex);
    unsubscribe(_subscriptions);
    _subscriptions.clear();
    {
        std::lock_guard<std::mutex> currentLock(_currentMutex);
        _current.reset();
    }
    _generation.store(0, std::memory_order_release);
    _pool->reset(0);
}

LuaEngine::Stats LuaEngine::stats() const {
    Stats stats;
    stats.calls = _calls.load(std::memory_order_relaxed);
    stats.errors = _errors.load(std::memory_order_relaxed);
    stats.budgetExceeded = _budgetExceeded.load(std::memory_order_relaxed);
    stats.memoryExceeded = _memoryExceeded.load(std::memory_order_relaxed);
    stats.generation = _generation.load(std::memory_order_acquire);
    stats.states = _pool->size();
    return stats;
}

std::shared_ptr<const LuaEngine::Generation> LuaEngine::current() const {
    std::lock_guard<std::mutex> lock(_currentMutex);
    return _current;
}

std::shared_ptr<const LuaEngine::Generation> LuaEngine::check(const LuaOptions& options) {
    if (options.instructionBudget == 0) {
        throw LuaLoadError("lua.instruction_budget must be greater than 0");
    }
    auto generation = std::make_shared<Generation>();
    generation->number = _lastGeneration + 1;
    generation->options = options;
    for (const std::string& path : options.scripts) {
        generation->scripts.push_back({path, readScript(path)});
    }
    std::unique_ptr<LuaState> state;
    try {
        state = std::make_unique<LuaState>(_kv, _bus, LuaState::Purpose::Check,
                                           options.instructionBudget, options.memoryLimit,
                                           generation->number);
    } catch (const std::runtime_error& e) {
        throw LuaLoadError(e.what());
    }
    for (const LuaScript& script : generation->scripts) {
        std::string error = state->run(script);
        if (!error.empty()) {
            throw LuaLoadError(error);
        }
    }
    for (std::string& name : state->definedFunctions()) {
        generation->hooks.insert(std::move(name));
    }
    for (const LuaState::Subscription& subscription : state->subscriptions()) {
        if (generation->hooks.count("on_event") == 0) {
            throw LuaLoadError(subscription.where + "bus.subscribe(\"" + subscription.pattern +
                               "\") needs a global function on_event(topic, payload)");
        }
        auto& patterns = generation->patterns;
        if (std::find(patterns.begin(), patterns.end(), subscription.pattern) == patterns.end()) {
            patterns.push_back(subscription.pattern);
        }
    }
    return generation;
}

std::vector<std::uint64_t> LuaEngine::subscribe(const Generation& generation) {
    std::vector<std::uint64_t> ids;
    if (_bus == nullptr) {
        return ids;  // bus.subscribe already failed the load with "bus not available"
    }
    for (const std::string& pattern : generation.patterns) {
        try {
            std::uint64_t number = generation.number;
            ids.push_back(_bus->subscribe(
                pattern, [this, number](const Event& event) { deliver(number, event); }));
        } catch (const std::exception& e) {
            unsubscribe(ids);
            throw LuaLoadError("cannot subscribe to \"" + pattern + "\": " + e.what());
        }
    }
    return ids;
}

void LuaEngine::unsubscribe(const std::vector<std::uint64_t>& ids) {
    if (_bus == nullptr) {
        return;
    }
    for (std::uint64_t id : ids) {
        try {
            _bus->unsubscribe(id);
        } catch (const std::exception& e) {
            logger().warning("cannot remove a Lua bus subscription: %s", std::string(e.what()));
        }
    }
}

std::shared_ptr<LuaState> LuaEngine::threadState(std::string& error) {
    {
        ThreadSlot& slot = threadCache.slot(_id, _pool);
        std::shared_ptr<LuaState> state = slot.state.lock();
        if (state && state->generation() == _generation.load(std::memory_order_acquire) &&
            !state->broken()) {
            return state;
        }
        if (state) {
            _pool->release(state.get());
            slot.state.reset();
        }
    }
    std::shared_ptr<const Generation> generation = current();
    if (!generation) {
        error = "hook not defined";
        return nullptr;
    }
    if (threadCache.building) {
        // Top-level code published an event that a synchronous bus delivered straight back.
        error = "Lua state busy: a script's top-level code cannot trigger a hook";
        return nullptr;
    }
    BuildingScope building(threadCache.building);
    auto fresh = std::make_shared<LuaState>(_kv, _bus, LuaState::Purpose::Serve,
                                            generation->options.instructionBudget,
                                            generation->options.memoryLimit, generation->number);
    for (const LuaScript& script : generation->scripts) {
        std::string failure = fresh->run(script);
        if (!failure.empty()) {
            error = "Lua scripts failed to load on this thread: " + failure;
            logger().error(error);
            return nullptr;
        }
    }
    _pool->adopt(fresh);
    // Looked up again: running the scripts may have added slots for other engines.
    threadCache.slot(_id, _pool).state = fresh;
    return fresh;
}

void LuaEngine::deliver(std::uint64_t generation, const Event& event) {
    if (generation != _generation.load(std::memory_order_acquire)) {
        return;
    }
    try {
        rapidjson::Document payload;
        payload.Parse<rapidjson::kParseIterativeFlag>(event.payload.data(), event.payload.size());
        if (payload.HasParseError()) {
            logger().warning("event %s: payload is not valid JSON; on_event not called",
                             event.topic);
            return;
        }
        rapidjson::Value topic(rapidjson::StringRef(event.topic.data(), event.topic.size()));
        // Failures are counted and logged by call().
        call("on_event", {&topic, &payload});
    } catch (const std::exception& e) {
        logger().warning("event %s: %s", event.topic, std::string(e.what()));
    }
}

}  // namespace switchboard
