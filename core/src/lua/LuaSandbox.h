// The environment Lua scripts run in: the safe parts of the standard library and the host API
// (log, json, store, bus, time).
#pragma once

#include <lua.hpp>

namespace switchboard {

/// Installs the sandbox into a fresh state owned by a LuaState. Allowed: the base functions
/// except dofile/loadfile/warn (load takes text only; collectgarbage only "collect", "count",
/// "step", "isrunning"; setmetatable refuses __gc), string without dump, table, math, utf8,
/// coroutine, os.time/clock/date. Not available: io, package/require, debug, the rest of os.
/// Library functions that loop inside one C call are replaced or wrapped so that their work is
/// charged to the instruction budget (LuaStringLibrary, LuaTableLibrary, LuaMeteredLibrary).
class LuaSandbox {
public:
    /// A lua_CFunction: call it with lua_pcall on the new state before any script runs.
    static int open(lua_State* lua);
};

}  // namespace switchboard
