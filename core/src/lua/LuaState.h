// One sandboxed Lua state: an allocator with a memory cap, a per-call instruction budget that
// library functions and allocations are charged to, script loading and hook calls. LuaEngine
// keeps one per thread and script generation.
#pragma once

#include <rapidjson/document.h>
#include <lua.hpp>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "switchboard/Lua.h"

namespace switchboard {

class EventBus;
class KeyValueStore;

/// A script as read from disk: its path (the chunk name in messages) and its text.
struct LuaScript {
    std::string path;
    std::string source;
};

/// A Lua state with the sandbox installed (see LuaSandbox). Used by one thread at a time; its
/// owner (LuaEngine) guarantees that. The store and bus, either of which may be null, must
/// outlive it.
class LuaState {
public:
    /// Check: the load-time state that validates scripts and records bus.subscribe calls.
    /// Serve: a worker thread's state, where bus.subscribe at load time does nothing.
    enum class Purpose { Check, Serve };
    enum class Outcome { Ok, Undefined, Failed, BudgetExceeded, MemoryExceeded };
    /// A bus.subscribe call seen while a Check state loaded the scripts.
    struct Subscription {
        std::string pattern;
        std::string where;  ///< "path:line: "
    };

    /// Creates the state and installs the sandbox. Throws std::runtime_error if that fails
    /// (e.g. the memory limit is too small for the standard libraries).
    LuaState(KeyValueStore* kv, EventBus* bus, Purpose purpose, std::uint64_t instructionBudget,
             std::size_t memoryLimit, std::uint64_t generation);
    ~LuaState();
    LuaState(const LuaState&) = delete;
    LuaState& operator=(const LuaState&) = delete;

    /// Compiles `script` as text (never bytecode) and runs it under the instruction budget.
    /// Returns "" on success, else the reason ("path:line: message").
    std::string run(const LuaScript& script);
    /// Calls the global function `name` with `args` converted to Lua. Fills `result` (ok, error,
    /// values) and says what happened. Never throws except std::bad_alloc.
    Outcome call(const std::string& name, const std::vector<const rapidjson::Value*>& args,
                 LuaResult& result);
    /// Names of the global functions the scripts defined (the sandbox's own are left out).
    std::vector<std::string> definedFunctions() const;
    /// bus.subscribe calls recorded while loading (Check states only).
    const std::vector<Subscription>& subscriptions() const { return _subscriptions; }
    /// True once the running call went over its instruction budget or hit the memory cap: from
    /// then on no Lua code may catch the error (LuaSandbox's pcall, xpcall and coroutine.resume
    /// raise it again) and no allocation succeeds, so the call ends.
    bool stopped() const { return _stop != Stop::None; }
    /// Raises the error that stopped the call ("instruction budget exceeded" or "memory limit
    /// exceeded") without allocating. A Lua error: call it with no C++ objects to unwind.
    int raiseStop(lua_State* lua);
    /// "path:line" of the last instruction budget overrun ("?" if no Lua line was running).
    const char* budgetWhere() const { return _budgetWhere; }
    /// True once an allocation failed at the memory cap: the owner should replace the state.
    bool broken() const { return _broken; }
    std::uint64_t generation() const { return _generation; }
    std::size_t memoryUsed() const { return _bytes; }

    // For the script API (LuaSandbox). The string and document members are scratch space that
    // survives a Lua error unwinding the C function that uses them.
    /// The LuaState that owns `lua` (or a coroutine of it).
    static LuaState& of(lua_State* lua) {
        return **static_cast<LuaState**>(lua_getextraspace(lua));
    }
    KeyValueStore* kv() const { return _kv; }
    EventBus* bus() const { return _bus; }
    Purpose purpose() const { return _purpose; }
    /// True while run() executes a script's top-level code.
    bool loading() const { return _loading; }
    std::string& text() { return _text; }
    std::string& error() { return _error; }
    rapidjson::Document& document() { return _document; }
    /// Records a bus.subscribe call; false if out of memory.
    bool addSubscription(const char* pattern, const char* where) noexcept;

    // Work that is not a VM instruction is charged to the same budget, in instructions.
    /// Bytes allocated per instruction charged.
    static constexpr std::size_t kBytesPerUnit = 16;
    /// What one store, bus or log call costs besides its data (it may wait for I/O).
    static constexpr std::uint64_t kHostCallUnits = 1000;
    /// Instructions the running call may still use (0 once it is over budget).
    std::uint64_t remaining() const;
    /// Charges `units` instructions to the running call; past the budget this raises the budget
    /// error (a Lua error: call it with no C++ objects to unwind).
    void charge(lua_State* lua, std::uint64_t units);

private:
    static void* allocate(void* self, void* block, std::size_t oldSize, std::size_t newSize);
    static void countHook(lua_State* lua, lua_Debug* debug);
    static int panic(lua_State* lua);
    /// Installs the sandbox (LuaSandbox::open) and the stop messages; run with lua_pcall.
    static int setUp(lua_State* lua);
    enum class Stop { None, Budget, Memory };
    /// Starts a metered run: budget, allocations charged, stop cleared.
    void startBudget();
    /// Ends it: allocations made by the host between calls are not charged.
    void endBudget() { _metering = false; }
    bool overBudget() const;
    void noteWhere(lua_Debug& debug);
    /// Classifies the failed call whose error object is on top of the stack.
    Outcome failure(int status, std::string& message);

    lua_State* _lua = nullptr;
    KeyValueStore* _kv;
    EventBus* _bus;
    Purpose _purpose;
    std::uint64_t _generation;
    bool _loading = false;
    bool _busy = false;

    std::uint64_t _budget;
    int _period;
    std::uint64_t _used = 0;       ///< instructions and charges of the running call
    std::uint64_t _allocated = 0;  ///< bytes it allocated
    bool _metering = false;
    Stop _stop = Stop::None;
    char _budgetWhere[LUA_IDSIZE + 24] = "?";
    int _budgetMessage = LUA_NOREF;  ///< registry references: raising allocates nothing
    int _memoryMessage = LUA_NOREF;

    std::size_t _memoryLimit;
    std::size_t _bytes = 0;
    bool _memoryHit = false;
    bool _broken = false;

    std::unordered_set<std::string> _builtins;
    std::vector<Subscription> _subscriptions;
    std::string _text;
    std::string _error;
    rapidjson::Document _document;
};

}  // namespace switchboard
