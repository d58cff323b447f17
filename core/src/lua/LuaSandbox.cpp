// The sandboxed environment and the host API for Lua scripts (see LuaSandbox.h).
//
// Lua is built as C: its errors unwind with longjmp, which skips C++ destructors. The API
// functions below therefore keep C++ objects only inside noexcept helpers that return before
// any Lua call that may raise, or in the LuaState's scratch members.
#include "lua/LuaSandbox.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>

#include "lua/LuaConvert.h"
#include "lua/LuaMeteredLibrary.h"
#include "lua/LuaState.h"
#include "lua/LuaStringLibrary.h"
#include "lua/LuaTableLibrary.h"
#include "store/KeyValueStore.h"
#include "switchboard/Clock.h"
#include "switchboard/EventBus.h"
#include "switchboard/Utf8.h"

namespace switchboard {

namespace {

/// Wraps base functions that need limits. Runs once per state, before the scripts.
const char* const kPrelude = R"lua(
local rawload, rawcollect, rawsetmetatable = load, collectgarbage, setmetatable
local error, rawget, tostring, type = error, rawget, tostring, type
local collectable = { collect = true, count = true, step = true, isrunning = true }

function load(chunk, name, mode, ...)
    return rawload(chunk, name, "t", ...)
end

function collectgarbage(option, ...)
    if option == nil or collectable[option] then
        return rawcollect(option, ...)
    end
    error("collectgarbage('" .. tostring(option) .. "') is not allowed", 2)
end

function setmetatable(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        error("setmetatable: __gc metamethods are not allowed", 2)
    end
    return rawsetmetatable(t, mt)
end
)lua";

void writeLog(Poco::Message::Priority priority, const char* where, const char* message) noexcept {
    try {
        Poco::Logger& logger = Poco::Logger::get("switchboard.lua");
        if (logger.is(priority)) {
            // A script may log any bytes; the log (JSON lines, too) takes UTF-8 only.
            logger.log(Poco::Message(
                logger.name(), LuaConvert::repairUtf8(std::string(where) + message), priority));
        }
    } catch (...) {
        // Logging must never break a script.
    }
}

/// Logs the arguments, tab-separated, prefixed with the caller's "path:line:".
int logAt(lua_State* lua, Poco::Message::Priority priority) {
    LuaState::of(lua).charge(lua, LuaState::kHostCallUnits);
    int count = lua_gettop(lua);
    luaL_where(lua, 1);
    luaL_Buffer buffer;
    luaL_buffinit(lua, &buffer);
    for (int i = 1; i <= count; ++i) {
        if (i > 1) {
            luaL_addchar(&buffer, '\t');
        }
        luaL_tolstring(lua, i, nullptr);
        luaL_addvalue(&buffer);
    }
    luaL_pushresult(&buffer);
    writeLog(priority, lua_tostring(lua, count + 1), lua_tostring(lua, -1));
    return 0;
}

int logInfo(lua_State* lua) {
    return logAt(lua, Poco::Message::PRIO_INFORMATION);
}
int logWarn(lua_State* lua) {
    return logAt(lua, Poco::Message::PRIO_WARNING);
}
int logError(lua_State* lua) {
    return logAt(lua, Poco::Message::PRIO_ERROR);
}

/// Converts the value at `index` to JSON text in state.text() within `units` instructions
/// (decreased by what it spent); on failure state.error() says why.
bool convert(lua_State* lua, int index, LuaState& state, const char* name,
             std::uint64_t& units) noexcept {
    try {
        return LuaConvert::toJsonText(lua, index, state.text(), state.error(), units, name);
    } catch (const std::exception& e) {
        state.error() = e.what();
    } catch (...) {
        state.error() = "out of memory";
    }
    return false;
}

/// convert() charged to the call; raises "<context><why>" if the value cannot be converted.
void encode(lua_State* lua, int index, LuaState& state, const char* context, const char* name) {
    std::uint64_t available = state.remaining();
    std::uint64_t left = available;
    bool ok = convert(lua, index, state, name, left);
    bool overBudget = !ok && state.error() == LuaConvert::kOverBudget;
    state.charge(lua, overBudget ? available + 1 : available - left);
    if (!ok) {
        luaL_error(lua, "%s%s", context, state.error().c_str());
    }
}

/// JSON parsing costs an instruction per this many bytes.
constexpr std::size_t kParsedBytesPerUnit = 1;

/// Parses JSON text into state.document(); on failure state.error() says why.
bool decode(LuaState& state, const char* text, std::size_t length) noexcept {
    try {
        rapidjson::Document fresh;
        state.document().Swap(fresh);
        state.document().Parse<rapidjson::kParseIterativeFlag>(text, length);
        if (!state.document().HasParseError()) {
            return true;
        }
        state.error() = std::string(rapidjson::GetParseError_En(state.document().GetParseError())) +
                        " at offset " + std::to_string(state.document().GetErrorOffset());
    } catch (...) {
        state.error() = "out of memory";
    }
    return false;
}

/// Drops the decoded document so a large value does not stay allocated.
void releaseDocument(LuaState& state) noexcept {
    rapidjson::Document empty;
    state.document().Swap(empty);
}

/// Runs a store or bus operation, turning an exception into state.error().
template <typename Operation>
bool attempt(LuaState& state, Operation operation) noexcept {
    try {
        operation();
        return true;
    } catch (const std::exception& e) {
        state.error() = e.what();
    } catch (...) {
        state.error() = "unknown error";
    }
    return false;
}

int jsonEncode(lua_State* lua) {
    luaL_checkany(lua, 1);
    LuaState& state = LuaState::of(lua);
    encode(lua, 1, state, "", "value");
    lua_pushlstring(lua, state.text().data(), state.text().size());
    return 1;
}

int jsonDecode(lua_State* lua) {
    std::size_t length = 0;
    const char* text = luaL_checklstring(lua, 1, &length);
    LuaState& state = LuaState::of(lua);
    state.charge(lua, 1 + length / kParsedBytesPerUnit);
    if (!decode(state, text, length)) {
        return luaL_error(lua, "json.decode: %s", state.error().c_str());
    }
    LuaConvert::push(lua, state.document());
    releaseDocument(state);
    return 1;
}

KeyValueStore& storeOf(lua_State* lua) {
    KeyValueStore* kv = LuaState::of(lua).kv();
    if (kv == nullptr) {
        luaL_error(lua, "store not available");
    }
    return *kv;
}

int storeGet(lua_State* lua) {
    KeyValueStore& kv = storeOf(lua);
    const char* key = luaL_checkstring(lua, 1);
    LuaState& state = LuaState::of(lua);
    state.charge(lua, LuaState::kHostCallUnits);
    bool found = false;
    bool ok = attempt(state, [&] {
        std::optional<std::string> value = kv.get(key);
        found = value.has_value();
        if (found) {
            state.text() = std::move(*value);
        }
    });
    if (!ok) {
        return luaL_error(lua, "store.get: %s", state.error().c_str());
    }
    if (!found) {
        lua_pushnil(lua);
        return 1;
    }
    state.charge(lua, state.text().size() / kParsedBytesPerUnit);
    if (!decode(state, state.text().data(), state.text().size())) {
        return luaL_error(lua, "store.get: stored value is not valid JSON: %s",
                          state.error().c_str());
    }
    LuaConvert::push(lua, state.document());
    releaseDocument(state);
    return 1;
}

int storeDelete(lua_State* lua) {
    KeyValueStore& kv = storeOf(lua);
    const char* key = luaL_checkstring(lua, 1);
    LuaState& state = LuaState::of(lua);
    state.charge(lua, LuaState::kHostCallUnits);
    if (!attempt(state, [&] { kv.remove(key); })) {
        return luaL_error(lua, "store.delete: %s", state.error().c_str());
    }
    return 0;
}

int storePut(lua_State* lua) {
    KeyValueStore& kv = storeOf(lua);
    std::size_t length = 0;
    const char* key = luaL_checklstring(lua, 1, &length);
    if (lua_isnoneornil(lua, 2)) {
        return storeDelete(lua);
    }
    if (!validUtf8(std::string_view(key, length))) {
        return luaL_error(lua, "store.put: the key is not valid UTF-8");
    }
    LuaState& state = LuaState::of(lua);
    state.charge(lua, LuaState::kHostCallUnits);
    encode(lua, 2, state, "store.put: ", "value");
    if (!attempt(state, [&] { kv.put(key, state.text()); })) {
        return luaL_error(lua, "store.put: %s", state.error().c_str());
    }
    return 0;
}

EventBus& busOf(lua_State* lua) {
    EventBus* bus = LuaState::of(lua).bus();
    if (bus == nullptr) {
        luaL_error(lua, "bus not available");
    }
    return *bus;
}

/// Scripts publish only under "lua.": the plugins' topics (server.offline, user.deleted, ...)
/// are facts other plugins and webhooks act on, and a script must not be able to forge them.
bool scriptTopic(std::string_view topic) {
    constexpr std::string_view prefix = "lua.";
    if (topic.size() <= prefix.size() || topic.size() > 128 || topic.substr(0, 4) != prefix) {
        return false;
    }
    return std::all_of(topic.begin(), topic.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

int busPublish(lua_State* lua) {
    EventBus& bus = busOf(lua);
    std::size_t length = 0;
    const char* topic = luaL_checklstring(lua, 1, &length);
    if (!scriptTopic(std::string_view(topic, length))) {
        lua_pushfstring(lua,
                        "bus.publish: scripts publish only topics under 'lua.' made of "
                        "letters, digits, '.', '_' and '-' (got '");
        lua_pushlstring(lua, topic, std::min<std::size_t>(length, 128));
        lua_pushliteral(lua, "')");
        lua_concat(lua, 3);
        return lua_error(lua);
    }
    LuaState& state = LuaState::of(lua);
    state.charge(lua, LuaState::kHostCallUnits);
    if (lua_isnoneornil(lua, 2)) {
        state.text() = "{}";
    } else {
        luaL_checktype(lua, 2, LUA_TTABLE);
        encode(lua, 2, state, "bus.publish: ", "payload");
        if (state.text().front() != '{') {
            return luaL_error(lua, "bus.publish: the payload must be a table with string keys");
        }
    }
    if (!attempt(state, [&] { bus.publish(topic, state.text()); })) {
        return luaL_error(lua, "bus.publish: %s", state.error().c_str());
    }
    return 0;
}

int busSubscribe(lua_State* lua) {
    busOf(lua);
    std::size_t length = 0;
    const char* pattern = luaL_checklstring(lua, 1, &length);
    if (!validUtf8(std::string_view(pattern, length))) {
        return luaL_error(lua, "bus.subscribe: the pattern is not valid UTF-8");
    }
    if (internalTopic(std::string(pattern, length))) {
        return luaL_error(lua, "bus.subscribe: internal topics are not for scripts");
    }
    LuaState& state = LuaState::of(lua);
    if (!state.loading()) {
        return luaL_error(lua, "bus.subscribe must be called by a script's top-level code");
    }
    if (state.purpose() == LuaState::Purpose::Check) {
        luaL_where(lua, 1);
        if (!state.addSubscription(pattern, lua_tostring(lua, -1))) {
            return luaL_error(lua, "bus.subscribe: out of memory");
        }
    }
    return 0;
}

int timeNow(lua_State* lua) {
    lua_pushnumber(lua, epochSeconds());
    return 1;
}

/// Continuation of the guarded protected calls: once the call is over budget or hit the memory
/// cap, what the original pcall, xpcall or coroutine.resume caught is raised again, so no
/// script can catch the error and keep running.
int afterProtectedCall(lua_State* lua, int, lua_KContext) {
    LuaState& state = LuaState::of(lua);
    if (state.stopped()) {
        return state.raiseStop(lua);
    }
    return lua_gettop(lua);  // the original call's results replaced it and its arguments
}

/// pcall, coroutine.resume and coroutine.close as scripts see them: the original (upvalue 1),
/// called with a continuation so yields across it still work, then afterProtectedCall.
int guardedCall(lua_State* lua) {
    int arguments = lua_gettop(lua);
    lua_pushvalue(lua, lua_upvalueindex(1));
    lua_insert(lua, 1);
    lua_callk(lua, arguments, LUA_MULTRET, 0, afterProtectedCall);
    return afterProtectedCall(lua, LUA_OK, 0);
}

/// xpcall's message handler, wrapping the script's (upvalue 1). Once the call is stopped it
/// never calls the script's handler: Lua runs message handlers for errors raised by the
/// instruction hook with hooks off, so a looping handler would spin forever.
int guardedMessageHandler(lua_State* lua) {
    if (LuaState::of(lua).stopped()) {
        lua_settop(lua, 1);
        return 1;
    }
    int arguments = lua_gettop(lua);
    lua_pushvalue(lua, lua_upvalueindex(1));
    lua_insert(lua, 1);
    lua_call(lua, arguments, 1);
    return 1;
}

/// xpcall(f, handler, ...): the original xpcall (upvalue 1) with the handler guarded.
int guardedXpcall(lua_State* lua) {
    luaL_checktype(lua, 2, LUA_TFUNCTION);
    lua_pushvalue(lua, 2);
    lua_pushcclosure(lua, guardedMessageHandler, 1);
    lua_replace(lua, 2);
    return guardedCall(lua);
}

/// Replaces table[name] (or the global, for table == nullptr) by `guard` over the original.
void guard(lua_State* lua, const char* table, const char* name, lua_CFunction guard) {
    if (table != nullptr) {
        lua_getglobal(lua, table);
        lua_getfield(lua, -1, name);
    } else {
        lua_getglobal(lua, name);
    }
    lua_pushcclosure(lua, guard, 1);
    if (table != nullptr) {
        lua_setfield(lua, -2, name);
        lua_pop(lua, 1);
    } else {
        lua_setglobal(lua, name);
    }
}

void setTable(lua_State* lua, const char* name, const luaL_Reg* functions) {
    lua_newtable(lua);
    luaL_setfuncs(lua, functions, 0);
    lua_setglobal(lua, name);
}

}  // namespace

int LuaSandbox::open(lua_State* lua) {
    const luaL_Reg libraries[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_OSLIBNAME, luaopen_os},
    };
    for (const luaL_Reg& library : libraries) {
        luaL_requiref(lua, library.name, library.func, 1);
        lua_pop(lua, 1);
    }
    guard(lua, nullptr, "pcall", guardedCall);
    guard(lua, nullptr, "xpcall", guardedXpcall);
    guard(lua, LUA_COLIBNAME, "resume", guardedCall);
    guard(lua, LUA_COLIBNAME, "close", guardedCall);
    for (const char* name : {"dofile", "loadfile", "warn"}) {
        lua_pushnil(lua);
        lua_setglobal(lua, name);
    }
    lua_getglobal(lua, LUA_STRLIBNAME);
    lua_pushnil(lua);
    lua_setfield(lua, -2, "dump");
    lua_pop(lua, 1);
    LuaStringLibrary::install(lua);
    LuaTableLibrary::install(lua);
    LuaMeteredLibrary::install(lua);

    // os keeps only time, clock and date.
    lua_getglobal(lua, LUA_OSLIBNAME);
    lua_createtable(lua, 0, 3);
    for (const char* name : {"time", "clock", "date"}) {
        lua_getfield(lua, -2, name);
        lua_setfield(lua, -2, name);
    }
    lua_setglobal(lua, LUA_OSLIBNAME);
    lua_pop(lua, 1);

    lua_pushcfunction(lua, logInfo);
    lua_setglobal(lua, "print");
    static const luaL_Reg log[] = {
        {"info", logInfo}, {"warn", logWarn}, {"error", logError}, {nullptr, nullptr}};
    static const luaL_Reg json[] = {
        {"encode", jsonEncode}, {"decode", jsonDecode}, {nullptr, nullptr}};
    static const luaL_Reg store[] = {
        {"get", storeGet}, {"put", storePut}, {"delete", storeDelete}, {nullptr, nullptr}};
    static const luaL_Reg bus[] = {
        {"publish", busPublish}, {"subscribe", busSubscribe}, {nullptr, nullptr}};
    static const luaL_Reg time[] = {{"now", timeNow}, {nullptr, nullptr}};
    setTable(lua, "log", log);
    setTable(lua, "json", json);
    setTable(lua, "store", store);
    setTable(lua, "bus", bus);
    setTable(lua, "time", time);

    if (luaL_loadbufferx(lua, kPrelude, std::char_traits<char>::length(kPrelude), "=sandbox",
                         "t") != LUA_OK) {
        return lua_error(lua);
    }
    lua_call(lua, 0, 0);
    return 0;
}

}  // namespace switchboard
