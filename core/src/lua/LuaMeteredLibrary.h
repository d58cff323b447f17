// Charges for the library functions whose work grows with their input rather than with what
// they allocate: string.byte, upper, format, ..., utf8.*, tonumber, load, collectgarbage.
#pragma once

#include <lua.hpp>

namespace switchboard {

/// Wraps functions of the base, string and utf8 libraries so that each charges its work to the
/// call's instruction budget before (or, where only the result tells, right after) Lua's own C
/// function runs. The wrapper calls Lua's function in its own frame, so arguments, results and
/// error messages are Lua's. What each function costs is listed in docs/lua.md. Called by
/// LuaSandbox::open before the prelude captures load and collectgarbage.
class LuaMeteredLibrary {
public:
    static void install(lua_State* lua);
};

}  // namespace switchboard
