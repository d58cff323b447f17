// The sandbox's table.insert, remove, move, concat, unpack and sort: Lua 5.4's behaviour, with
// every element they touch and every comparison charged to the call's instruction budget.
#pragma once

#include <lua.hpp>

namespace switchboard {

/// Replaces table.insert, remove, move, concat, unpack and sort in the state's table library.
/// Lua's own loop inside one C call: insert, remove and move over a length that a __len
/// metamethod may make math.maxinteger (forever, without one instruction), sort through
/// n log n comparisons that may each compare two long strings. These charge one instruction
/// per element moved or read and per comparison (plus one per 64 bytes of compared strings).
/// sort is a heapsort: n log n comparisons whatever the input, and, as the manual allows, no
/// particular order among elements the comparison calls equal. Called by LuaSandbox::open.
class LuaTableLibrary {
public:
    static void install(lua_State* lua);
};

}  // namespace switchboard
