// table.insert, remove, move, concat, unpack and sort with metered work (see
// LuaTableLibrary.h). Arguments, results and error messages follow Lua 5.4's table library;
// LuaTableLibraryTest compares the two.
#include "lua/LuaTableLibrary.h"

#include <algorithm>
#include <climits>

#include "lua/LuaPattern.h"
#include "lua/LuaState.h"

namespace switchboard {

namespace {

enum Access { kRead = 1, kWrite = 2, kLength = 4 };

/// A comparison in sort (two reads, the order, the charge) takes about four instructions'
/// time; adding an element in concat about three.
constexpr std::uint64_t kUnitsPerComparison = 4;
constexpr std::uint64_t kUnitsPerConcatenated = 3;

bool hasField(lua_State* lua, int table, const char* key) {
    lua_pushstring(lua, key);
    bool has = lua_rawget(lua, table) != LUA_TNIL;
    lua_pop(lua, 1);
    return has;
}

/// Like Lua's: a table, or any value whose metatable has the metamethods `access` needs.
void checkTable(lua_State* lua, int arg, int access) {
    if (lua_type(lua, arg) == LUA_TTABLE) {
        return;
    }
    bool usable = false;
    if (lua_getmetatable(lua, arg) != 0) {
        int metatable = lua_gettop(lua);
        usable = ((access & kRead) == 0 || hasField(lua, metatable, "__index")) &&
                 ((access & kWrite) == 0 || hasField(lua, metatable, "__newindex")) &&
                 ((access & kLength) == 0 || hasField(lua, metatable, "__len"));
        lua_pop(lua, 1);
    }
    if (!usable) {
        luaL_checktype(lua, arg, LUA_TTABLE);
    }
}

lua_Integer lengthOf(lua_State* lua, int arg, int access) {
    checkTable(lua, arg, access | kLength);
    return luaL_len(lua, arg);
}

/// How often `for (i = high; i > low; --i)` runs (and `for (; low < high; ++low)`).
std::uint64_t between(lua_Integer low, lua_Integer high) {
    return high > low ? static_cast<lua_Unsigned>(high) - static_cast<lua_Unsigned>(low) : 0;
}

int insert(lua_State* lua) {
    // The new end wraps like Lua's (integer arithmetic is modular).
    lua_Integer end =
        static_cast<lua_Integer>(static_cast<lua_Unsigned>(lengthOf(lua, 1, kRead | kWrite)) + 1);
    lua_Integer position = end;
    switch (lua_gettop(lua)) {
        case 2:
            break;
        case 3: {
            position = luaL_checkinteger(lua, 2);
            luaL_argcheck(lua,
                          static_cast<lua_Unsigned>(position) - 1u < static_cast<lua_Unsigned>(end),
                          2, "position out of bounds");
            LuaState::of(lua).charge(lua, between(position, end));
            for (lua_Integer i = end; i > position; --i) {
                lua_geti(lua, 1, i - 1);
                lua_seti(lua, 1, i);
            }
            break;
        }
        default:
            return luaL_error(lua, "wrong number of arguments to 'insert'");
    }
    lua_seti(lua, 1, position);
    return 0;
}

int remove(lua_State* lua) {
    lua_Integer size = lengthOf(lua, 1, kRead | kWrite);
    lua_Integer position = luaL_optinteger(lua, 2, size);
    if (position != size) {
        // Lua 5.4 names argument 1 here.
        luaL_argcheck(lua,
                      static_cast<lua_Unsigned>(position) - 1u <= static_cast<lua_Unsigned>(size),
                      1, "position out of bounds");
    }
    LuaState::of(lua).charge(lua, 1 + between(position, size));
    lua_geti(lua, 1, position);
    for (; position < size; ++position) {
        lua_geti(lua, 1, position + 1);
        lua_seti(lua, 1, position);
    }
    lua_pushnil(lua);
    lua_seti(lua, 1, position);
    return 1;
}

int move(lua_State* lua) {
    lua_Integer first = luaL_checkinteger(lua, 2);
    lua_Integer last = luaL_checkinteger(lua, 3);
    lua_Integer target = luaL_checkinteger(lua, 4);
    int destination = lua_isnoneornil(lua, 5) ? 1 : 5;
    checkTable(lua, 1, kRead);
    checkTable(lua, destination, kWrite);
    if (last >= first) {
        luaL_argcheck(lua, first > 0 || last < LUA_MAXINTEGER + first, 3,
                      "too many elements to move");
        lua_Integer count = last - first + 1;
        luaL_argcheck(lua, target <= LUA_MAXINTEGER - count + 1, 4, "destination wrap around");
        LuaState::of(lua).charge(lua, static_cast<std::uint64_t>(count));
        // Overlapping ranges in one table are copied from the end that does not overwrite.
        if (target > last || target <= first ||
            (destination != 1 && lua_compare(lua, 1, destination, LUA_OPEQ) == 0)) {
            for (lua_Integer i = 0; i < count; ++i) {
                lua_geti(lua, 1, first + i);
                lua_seti(lua, destination, target + i);
            }
        } else {
            for (lua_Integer i = count - 1; i >= 0; --i) {
                lua_geti(lua, 1, first + i);
                lua_seti(lua, destination, target + i);
            }
        }
    }
    lua_pushvalue(lua, destination);
    return 1;
}

void addField(lua_State* lua, luaL_Buffer* buffer, lua_Integer i) {
    lua_geti(lua, 1, i);
    if (lua_isstring(lua, -1) == 0) {
        luaL_error(lua, "invalid value (%s) at index %I in table for 'concat'",
                   luaL_typename(lua, -1), static_cast<LUAI_UACINT>(i));
    }
    luaL_addvalue(buffer);
}

int concat(lua_State* lua) {
    lua_Integer last = lengthOf(lua, 1, kRead);
    std::size_t separatorLength = 0;
    const char* separator = luaL_optlstring(lua, 2, "", &separatorLength);
    lua_Integer i = luaL_optinteger(lua, 3, 1);
    last = luaL_optinteger(lua, 4, last);
    LuaState& state = LuaState::of(lua);
    luaL_Buffer buffer;
    luaL_buffinit(lua, &buffer);
    // Charged as it goes, not up front: a missing element must still be the error it is.
    for (; i < last; ++i) {
        state.charge(lua, kUnitsPerConcatenated);
        addField(lua, &buffer, i);
        luaL_addlstring(&buffer, separator, separatorLength);
    }
    if (i == last) {
        addField(lua, &buffer, i);
    }
    luaL_pushresult(&buffer);
    return 1;
}

int unpack(lua_State* lua) {
    lua_Integer i = luaL_optinteger(lua, 2, 1);
    lua_Integer last = lua_isnoneornil(lua, 3) ? luaL_len(lua, 1) : luaL_checkinteger(lua, 3);
    if (i > last) {
        return 0;
    }
    lua_Unsigned count = static_cast<lua_Unsigned>(last) - static_cast<lua_Unsigned>(i);
    if (count >= static_cast<unsigned int>(INT_MAX) ||
        lua_checkstack(lua, static_cast<int>(++count)) == 0) {
        return luaL_error(lua, "too many results to unpack");
    }
    LuaState::of(lua).charge(lua, count);
    for (; i < last; ++i) {
        lua_geti(lua, 1, i);
    }
    lua_geti(lua, 1, last);
    return static_cast<int>(count);
}

/// Heapsort over t[1..n] with the comparison charged. Stack: 1 table, 2 comparator or nil.
class Heap {
public:
    Heap(lua_State* lua, bool custom) : _lua(lua), _state(LuaState::of(lua)), _custom(custom) {}

    void sort(lua_Integer n) {
        for (lua_Integer start = n / 2; start >= 1; --start) {
            siftDown(start, n);
        }
        for (lua_Integer end = n; end > 1; --end) {
            swap(1, end);
            siftDown(1, end - 1);
        }
    }

private:
    /// t[i] < t[j] by the order.
    bool before(lua_Integer i, lua_Integer j) {
        if (_custom) {
            _state.charge(_lua, kUnitsPerComparison);
            lua_pushvalue(_lua, 2);
            lua_geti(_lua, 1, i);
            lua_geti(_lua, 1, j);
            lua_call(_lua, 2, 1);
            bool less = lua_toboolean(_lua, -1) != 0;
            lua_pop(_lua, 1);
            return less;
        }
        lua_geti(_lua, 1, i);
        lua_geti(_lua, 1, j);
        std::uint64_t cost = kUnitsPerComparison;
        if (lua_type(_lua, -2) == LUA_TSTRING && lua_type(_lua, -1) == LUA_TSTRING) {
            cost +=
                std::min(lua_rawlen(_lua, -2), lua_rawlen(_lua, -1)) / LuaPattern::kBytesPerStep;
        }
        _state.charge(_lua, cost);
        bool less = lua_compare(_lua, -2, -1, LUA_OPLT) != 0;
        lua_pop(_lua, 2);
        return less;
    }
    void swap(lua_Integer i, lua_Integer j) {
        lua_geti(_lua, 1, i);
        lua_geti(_lua, 1, j);
        lua_seti(_lua, 1, i);
        lua_seti(_lua, 1, j);
    }
    void siftDown(lua_Integer root, lua_Integer end) {
        for (lua_Integer child = 2 * root; child <= end; child = 2 * root) {
            if (child < end && before(child, child + 1)) {
                ++child;
            }
            if (!before(root, child)) {
                return;
            }
            swap(root, child);
            root = child;
        }
    }

    lua_State* _lua;
    LuaState& _state;
    bool _custom;
};

int sort(lua_State* lua) {
    lua_Integer n = lengthOf(lua, 1, kRead | kWrite);
    if (n > 1) {
        luaL_argcheck(lua, n < INT_MAX, 1, "array too big");
        bool custom = !lua_isnoneornil(lua, 2);
        if (custom) {
            luaL_checktype(lua, 2, LUA_TFUNCTION);
        }
        lua_settop(lua, 2);
        Heap(lua, custom).sort(n);
    }
    return 0;
}

}  // namespace

void LuaTableLibrary::install(lua_State* lua) {
    static const luaL_Reg functions[] = {{"insert", insert}, {"remove", remove}, {"move", move},
                                         {"concat", concat}, {"unpack", unpack}, {"sort", sort},
                                         {nullptr, nullptr}};
    lua_getglobal(lua, LUA_TABLIBNAME);
    luaL_setfuncs(lua, functions, 0);
    lua_pop(lua, 1);
}

}  // namespace switchboard
