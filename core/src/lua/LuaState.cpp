// One sandboxed Lua state with its memory cap and instruction budget (see LuaState.h).
#include "lua/LuaState.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "lua/LuaConvert.h"
#include "lua/LuaSandbox.h"

namespace switchboard {

namespace {

/// What the protected part of a hook call needs; lives on the C++ side of lua_pcall.
struct CallJob {
    const std::string* name;
    const std::vector<const rapidjson::Value*>* args;
    bool defined = true;
};

/// Looks the hook up, pushes its arguments and calls it, all inside lua_pcall so that a Lua
/// error (including out of memory while converting arguments) cannot unwind C++ frames.
int callProtected(lua_State* lua) {
    auto* job = static_cast<CallJob*>(lua_touserdata(lua, 1));
    if (lua_getglobal(lua, job->name->c_str()) != LUA_TFUNCTION) {
        job->defined = false;
        return 0;
    }
    int count = static_cast<int>(job->args->size());
    luaL_checkstack(lua, count + 1, "too many arguments");
    for (const rapidjson::Value* arg : *job->args) {
        if (arg == nullptr) {
            lua_pushnil(lua);
        } else {
            LuaConvert::push(lua, *arg);
        }
    }
    lua_call(lua, count, LUA_MULTRET);
    return lua_gettop(lua) - 1;
}

/// The error object on top of the stack as text, without calling anything that may raise. It
/// is logged and handed to plugins, so bytes that are not UTF-8 are replaced.
std::string errorObjectText(lua_State* lua) {
    char number[64];
    std::size_t length = 0;
    const char* text = nullptr;
    switch (lua_type(lua, -1)) {
        case LUA_TSTRING:
            text = lua_tolstring(lua, -1, &length);
            return LuaConvert::repairUtf8(std::string_view(text, length));
        case LUA_TNUMBER:
            if (lua_isinteger(lua, -1)) {
                std::snprintf(number, sizeof number, "%" PRId64,
                              static_cast<std::int64_t>(lua_tointeger(lua, -1)));
            } else {
                std::snprintf(number, sizeof number, "%.14g", lua_tonumber(lua, -1));
            }
            return number;
        default:
            return std::string("(error object is a ") + luaL_typename(lua, -1) + " value)";
    }
}

/// Resets the stack and clears the busy flag however call() leaves.
class CallScope {
public:
    CallScope(lua_State* lua, bool& busy) : _lua(lua), _busy(busy) { _busy = true; }
    ~CallScope() {
        lua_settop(_lua, 0);
        _busy = false;
    }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

private:
    lua_State* _lua;
    bool& _busy;
};

}  // namespace

LuaState::LuaState(KeyValueStore* kv, EventBus* bus, Purpose purpose,
                   std::uint64_t instructionBudget, std::size_t memoryLimit,
                   std::uint64_t generation)
    : _kv(kv),
      _bus(bus),
      _purpose(purpose),
      _generation(generation),
      _budget(instructionBudget),
      _period(static_cast<int>(std::clamp<std::uint64_t>(instructionBudget, 1, 1000))),
      _memoryLimit(memoryLimit) {
    _lua = lua_newstate(&LuaState::allocate, this);
    if (_lua == nullptr) {
        throw std::runtime_error("memory limit exceeded while creating a Lua state");
    }
    *static_cast<LuaState**>(lua_getextraspace(_lua)) = this;
    lua_atpanic(_lua, &LuaState::panic);
    // Setting up is not metered: the sandbox is the same whatever the budget.
    lua_sethook(_lua, &LuaState::countHook, LUA_MASKCOUNT, _period);
    lua_pushcfunction(_lua, &LuaState::setUp);
    int status = lua_pcall(_lua, 0, 0, 0);
    if (status != LUA_OK) {
        std::string message;
        failure(status, message);
        lua_close(_lua);
        throw std::runtime_error("cannot set up the Lua sandbox: " + message);
    }
    // The sandbox's globals are not hooks; remember them to leave them out of definedFunctions.
    lua_pushglobaltable(_lua);
    lua_pushnil(_lua);
    while (lua_next(_lua, -2) != 0) {
        if (lua_type(_lua, -2) == LUA_TSTRING) {
            _builtins.insert(lua_tostring(_lua, -2));
        }
        lua_pop(_lua, 1);
    }
    lua_settop(_lua, 0);
}

LuaState::~LuaState() {
    // Scripts cannot register finalizers (the sandbox refuses __gc), so closing runs no Lua code.
    lua_close(_lua);
}

std::string LuaState::run(const LuaScript& script) {
    lua_settop(_lua, 0);
    if (!script.source.empty() && script.source[0] == LUA_SIGNATURE[0]) {
        return script.path + ": precompiled (binary) chunks are not allowed";
    }
    startBudget();
    std::string chunkName = "@" + script.path;
    int status =
        luaL_loadbufferx(_lua, script.source.data(), script.source.size(), chunkName.c_str(), "t");
    if (status == LUA_OK) {
        _loading = true;
        status = lua_pcall(_lua, 0, 0, 0);
        _loading = false;
    }
    endBudget();
    if (status == LUA_OK && !stopped()) {
        return "";
    }
    std::string message;
    Outcome outcome = failure(status, message);
    lua_settop(_lua, 0);
    if (outcome == Outcome::BudgetExceeded) {
        // "?" when an allocation or a library function ran out, with no Lua line to blame.
        bool known = std::strcmp(_budgetWhere, "?") != 0;
        return (known ? std::string(_budgetWhere) : script.path) + ": " + message;
    }
    if (outcome == Outcome::MemoryExceeded) {
        return script.path + ": " + message;
    }
    return message;
}

LuaState::Outcome LuaState::call(const std::string& name,
                                 const std::vector<const rapidjson::Value*>& args,
                                 LuaResult& result) {
    result.ok = false;
    result.values.SetArray();
    if (_busy) {
        // A synchronous bus delivering an event raised by bus.publish inside a hook.
        result.error = "lua state busy: a hook cannot trigger another hook on the same thread";
        return Outcome::Failed;
    }
    CallScope scope(_lua, _busy);
    lua_settop(_lua, 0);
    startBudget();
    CallJob job{&name, &args};
    lua_pushcfunction(_lua, &callProtected);
    lua_pushlightuserdata(_lua, &job);
    int status = lua_pcall(_lua, 1, LUA_MULTRET, 0);
    endBudget();
    // A state that reached its memory cap may be full of live data: replace it.
    _broken = _broken || _memoryHit;
    if (status != LUA_OK || stopped()) {
        return failure(status, result.error);
    }
    if (!job.defined) {
        result.error = "hook not defined";
        return Outcome::Undefined;
    }
    int count = lua_gettop(_lua);
    rapidjson::Document::AllocatorType& allocator = result.values.GetAllocator();
    result.values.Reserve(static_cast<rapidjson::SizeType>(count), allocator);
    // Converting the results is part of the call's work.
    std::uint64_t units = remaining();
    for (int i = 1; i <= count; ++i) {
        rapidjson::Value value;
        if (!LuaConvert::toJson(_lua, i, value, allocator, result.error, units,
                                "result " + std::to_string(i))) {
            result.values.SetArray();
            if (result.error == LuaConvert::kOverBudget) {
                std::snprintf(_budgetWhere, sizeof _budgetWhere, "(converting its results)");
                return Outcome::BudgetExceeded;
            }
            return Outcome::Failed;
        }
        result.values.PushBack(value, allocator);
    }
    result.ok = true;
    return Outcome::Ok;
}

std::vector<std::string> LuaState::definedFunctions() const {
    std::vector<std::string> names;
    lua_pushglobaltable(_lua);
    lua_pushnil(_lua);
    while (lua_next(_lua, -2) != 0) {
        if (lua_type(_lua, -2) == LUA_TSTRING && lua_type(_lua, -1) == LUA_TFUNCTION &&
            _builtins.count(lua_tostring(_lua, -2)) == 0) {
            names.emplace_back(lua_tostring(_lua, -2));
        }
        lua_pop(_lua, 1);
    }
    lua_settop(_lua, 0);
    std::sort(names.begin(), names.end());
    return names;
}

bool LuaState::addSubscription(const char* pattern, const char* where) noexcept {
    try {
        _subscriptions.push_back({pattern, where});
        return true;
    } catch (...) {
        return false;
    }
}

void* LuaState::allocate(void* self, void* block, std::size_t oldSize, std::size_t newSize) {
    auto* state = static_cast<LuaState*>(self);
    // For a new block Lua passes the object type in oldSize, not a size.
    std::size_t old = block != nullptr ? oldSize : 0;
    if (newSize == 0) {
        std::free(block);
        state->_bytes -= old;
        return nullptr;
    }
    if (newSize > old) {
        if (state->_metering && state->_stop != Stop::None) {
            return nullptr;  // the call is over: nothing grows while its error unwinds
        }
        if (state->_bytes - old + newSize > state->_memoryLimit) {
            // Reaching the cap ends the call: Lua would otherwise run a full collection for
            // every allocation a script retries under pcall.
            state->_memoryHit = true;
            if (state->_metering) {
                state->_stop = Stop::Memory;
            }
            return nullptr;
        }
        if (state->_metering) {
            state->_allocated += newSize - old;
            if (state->overBudget()) {
                state->_stop = Stop::Budget;
                return nullptr;
            }
        }
    }
    void* moved = std::realloc(block, newSize);
    if (moved == nullptr) {
        return nullptr;
    }
    state->_bytes = state->_bytes - old + newSize;
    return moved;
}

void LuaState::countHook(lua_State* lua, lua_Debug* debug) {
    LuaState& state = of(lua);
    if (state._stop == Stop::None) {
        if (lua_gethookcount(lua) != state._period) {
            // A coroutine still stopping at every instruction after an earlier overrun.
            lua_sethook(lua, &LuaState::countHook, LUA_MASKCOUNT, state._period);
            return;
        }
        state._used += static_cast<std::uint64_t>(state._period);
        if (!state.overBudget()) {
            return;
        }
        state._stop = Stop::Budget;
        if (lua_getinfo(lua, "Sl", debug) != 0) {
            state.noteWhere(*debug);
        }
    }
    state.raiseStop(lua);
}

int LuaState::setUp(lua_State* lua) {
    LuaSandbox::open(lua);
    // The errors that end a call are raised without allocating: memory may be exhausted.
    LuaState& state = of(lua);
    lua_pushliteral(lua, "instruction budget exceeded");
    state._budgetMessage = luaL_ref(lua, LUA_REGISTRYINDEX);
    lua_pushliteral(lua, "memory limit exceeded");
    state._memoryMessage = luaL_ref(lua, LUA_REGISTRYINDEX);
    return 0;
}

int LuaState::raiseStop(lua_State* lua) {
    if (_stop == Stop::Budget && std::strcmp(_budgetWhere, "?") == 0) {
        // Stopped by an allocation or a library function: name the Lua line that called it.
        lua_Debug debug;
        for (int level = 0; lua_getstack(lua, level, &debug) != 0; ++level) {
            if (lua_getinfo(lua, "Sl", &debug) != 0 && debug.currentline > 0) {
                noteWhere(debug);
                break;
            }
        }
    }
    // From now on stop at every instruction, so a script that catches the error with pcall
    // cannot keep running.
    lua_sethook(lua, &LuaState::countHook, LUA_MASKCOUNT, 1);
    lua_rawgeti(lua, LUA_REGISTRYINDEX, _stop == Stop::Memory ? _memoryMessage : _budgetMessage);
    return lua_error(lua);
}

void LuaState::noteWhere(lua_Debug& debug) {
    // A chunk name given to load() is the script's text: keep only ASCII for the log line.
    char source[LUA_IDSIZE];
    std::size_t i = 0;
    for (; debug.short_src[i] != '\0' && i + 1 < sizeof source; ++i) {
        auto c = static_cast<unsigned char>(debug.short_src[i]);
        source[i] = c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
    }
    source[i] = '\0';
    std::snprintf(_budgetWhere, sizeof _budgetWhere, "%s:%d", source, debug.currentline);
}

std::uint64_t LuaState::remaining() const {
    std::uint64_t used = _used + _allocated / kBytesPerUnit;
    return used >= _budget ? 0 : _budget - used;
}

bool LuaState::overBudget() const {
    return _used + _allocated / kBytesPerUnit > _budget;
}

void LuaState::charge(lua_State* lua, std::uint64_t units) {
    // Saturating: a charge computed from a script's numbers may be anything.
    _used = units > std::numeric_limits<std::uint64_t>::max() / 2 - _used
                ? std::numeric_limits<std::uint64_t>::max() / 2
                : _used + units;
    if (_stop == Stop::None && overBudget()) {
        _stop = Stop::Budget;
    }
    if (_stop != Stop::None) {
        raiseStop(lua);
    }
}

int LuaState::panic(lua_State* lua) {
    // Only reachable through a bug in this file: every Lua call runs in protected mode.
    const char* message = lua_type(lua, -1) == LUA_TSTRING ? lua_tostring(lua, -1) : "?";
    Poco::Logger::get("switchboard.lua").fatal(std::string("unprotected Lua error: ") + message);
    return 0;
}

void LuaState::startBudget() {
    _used = 0;
    _allocated = 0;
    _stop = Stop::None;
    _memoryHit = false;
    _metering = true;
    std::snprintf(_budgetWhere, sizeof _budgetWhere, "?");
    lua_sethook(_lua, &LuaState::countHook, LUA_MASKCOUNT, _period);
}

LuaState::Outcome LuaState::failure(int status, std::string& message) {
    if (_stop == Stop::Budget) {
        message = "instruction budget exceeded";
        return Outcome::BudgetExceeded;
    }
    std::string text = status == LUA_OK ? std::string() : errorObjectText(_lua);
    if (_stop == Stop::Memory || status == LUA_ERRMEM ||
        (_memoryHit && text == "not enough memory")) {
        _broken = true;
        message = "memory limit exceeded";
        return Outcome::MemoryExceeded;
    }
    message = std::move(text);
    return Outcome::Failed;
}

}  // namespace switchboard
