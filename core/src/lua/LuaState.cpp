// One sandboxed Lua state with its memory cap and instruction budget (see LuaState.h).
#include "lua/LuaState.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
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

/// The error object on top of the stack as text, without calling anything that may raise.
std::string errorObjectText(lua_State* lua) {
    char number[64];
    switch (lua_type(lua, -1)) {
        case LUA_TSTRING:
            return lua_tostring(lua, -1);
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
    startBudget();
    lua_pushcfunction(_lua, &LuaSandbox::open);
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
    if (status == LUA_OK) {
        return "";
    }
    std::string message;
    Outcome outcome = failure(status, message);
    lua_settop(_lua, 0);
    if (outcome == Outcome::BudgetExceeded) {
        return std::string(_budgetWhere) + ": " + message;
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
    // A state that reached its memory cap may be full of live data: replace it even if the
    // script recovered.
    _broken = _broken || _memoryHit;
    if (status != LUA_OK) {
        return failure(status, result.error);
    }
    if (!job.defined) {
        result.error = "hook not defined";
        return Outcome::Undefined;
    }
    int count = lua_gettop(_lua);
    rapidjson::Document::AllocatorType& allocator = result.values.GetAllocator();
    result.values.Reserve(static_cast<rapidjson::SizeType>(count), allocator);
    for (int i = 1; i <= count; ++i) {
        rapidjson::Value value;
        if (!LuaConvert::toJson(_lua, i, value, allocator, result.error)) {
            result.values.SetArray();
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
    if (newSize > old && state->_bytes - old + newSize > state->_memoryLimit) {
        state->_memoryHit = true;
        return nullptr;
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
    if (!state._budgetExceeded) {
        if (lua_gethookcount(lua) != state._period) {
            // A coroutine still stopping at every instruction after an earlier overrun.
            lua_sethook(lua, &LuaState::countHook, LUA_MASKCOUNT, state._period);
            return;
        }
        state._used += static_cast<std::uint64_t>(state._period);
        if (state._used <= state._budget) {
            return;
        }
        state._budgetExceeded = true;
        if (lua_getinfo(lua, "Sl", debug) != 0) {
            std::snprintf(state._budgetWhere, sizeof state._budgetWhere, "%s:%d", debug->short_src,
                          debug->currentline);
        }
        // From now on stop at every instruction, so a script that catches the error with pcall
        // cannot keep running.
        lua_sethook(lua, &LuaState::countHook, LUA_MASKCOUNT, 1);
    }
    lua_pushliteral(lua, "instruction budget exceeded");
    lua_error(lua);
}

int LuaState::panic(lua_State* lua) {
    // Only reachable through a bug in this file: every Lua call runs in protected mode.
    const char* message = lua_type(lua, -1) == LUA_TSTRING ? lua_tostring(lua, -1) : "?";
    Poco::Logger::get("switchboard.lua").fatal(std::string("unprotected Lua error: ") + message);
    return 0;
}

void LuaState::startBudget() {
    _used = 0;
    _budgetExceeded = false;
    _memoryHit = false;
    lua_sethook(_lua, &LuaState::countHook, LUA_MASKCOUNT, _period);
}

LuaState::Outcome LuaState::failure(int status, std::string& message) {
    if (_budgetExceeded) {
        message = "instruction budget exceeded";
        return Outcome::BudgetExceeded;
    }
    std::string text = errorObjectText(_lua);
    if (status == LUA_ERRMEM || (_memoryHit && text == "not enough memory")) {
        _broken = true;
        message = "memory limit exceeded";
        return Outcome::MemoryExceeded;
    }
    message = std::move(text);
    return Outcome::Failed;
}

}  // namespace switchboard
