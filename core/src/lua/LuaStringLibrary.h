// The sandbox's string.find, match, gmatch, gsub and rep: Lua 5.4's behaviour, with their work
// charged to the call's instruction budget (LuaPattern does the matching).
#pragma once

#include <lua.hpp>

namespace switchboard {

/// Replaces string.find, match, gmatch, gsub and rep in the state's string table, which is also
/// the string metatable's __index, so ("x"):find(...) uses them too. Lua's own functions run
/// inside one C call that the instruction hook cannot interrupt: a pattern like ".-.-x"
/// backtracks in cubic time, and string.rep("", 2^53) loops 2^53 times. These charge every
/// matcher step (and 1 per 16 bytes they allocate, like any allocation) and stop at the budget.
/// Called by LuaSandbox::open, in protected mode.
class LuaStringLibrary {
public:
    static void install(lua_State* lua);
};

}  // namespace switchboard
