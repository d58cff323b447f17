// Metered wrappers over Lua's library functions (see LuaMeteredLibrary.h). Each wrapper has
// Lua's function as upvalue 1 and calls it directly, in the wrapper's own frame: luaL_error and
// luaL_argerror then name the script's line and the function exactly as for Lua's own call.
// That is sound because none of the wrapped functions uses upvalues of its own.
#include "lua/LuaMeteredLibrary.h"

#include <cstring>
#include <initializer_list>

#include "lua/LuaState.h"

namespace switchboard {

namespace {

/// Bytes of input one instruction pays for in byte-at-a-time functions (case mapping,
/// number parsing, UTF-8 decoding, format directives).
constexpr std::uint64_t kBytesPerUnit = 4;

int callOriginal(lua_State* lua) {
    return lua_tocfunction(lua, lua_upvalueindex(1))(lua);
}

void charge(lua_State* lua, std::uint64_t units) {
    LuaState::of(lua).charge(lua, units);
}

/// Lua's start position: 1-based, negative from the end, at least 1.
lua_Integer startPosition(lua_Integer position, std::size_t length) {
    if (position > 0) {
        return position;
    }
    if (position == 0 || position < -static_cast<lua_Integer>(length)) {
        return 1;
    }
    return static_cast<lua_Integer>(length) + position + 1;
}

/// Lua's end position: at most the length, negative from the end, at least 0.
lua_Integer endPosition(lua_Integer position, std::size_t length) {
    if (position > static_cast<lua_Integer>(length)) {
        return static_cast<lua_Integer>(length);
    }
    if (position >= 0) {
        return position;
    }
    if (position < -static_cast<lua_Integer>(length)) {
        return 0;
    }
    return static_cast<lua_Integer>(length) + position + 1;
}

/// utf8's relative position: negative from the end, 0 if before the start.
lua_Integer utf8Position(lua_Integer position, std::size_t length) {
    if (position >= 0) {
        return position;
    }
    if (0u - static_cast<std::size_t>(position) > length) {
        return 0;
    }
    return static_cast<lua_Integer>(length) + position + 1;
}

std::uint64_t count(lua_Integer first, lua_Integer last) {
    return last < first ? 0
                        : static_cast<lua_Unsigned>(last) - static_cast<lua_Unsigned>(first) + 1;
}

/// string.upper, lower, reverse, format, char, pack, packsize, utf8.char, tonumber: work
/// grows with the string arguments and the number of arguments.
int chargeArguments(lua_State* lua) {
    int arguments = lua_gettop(lua);
    std::uint64_t units = 1 + static_cast<std::uint64_t>(arguments);
    for (int i = 1; i <= arguments; ++i) {
        if (lua_type(lua, i) == LUA_TSTRING) {
            units += lua_rawlen(lua, i) / kBytesPerUnit;
        }
    }
    charge(lua, units);
    return callOriginal(lua);
}

/// string.byte(s, i, j): one value per byte returned.
int byte(lua_State* lua) {
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &length);
    lua_Integer given = luaL_optinteger(lua, 2, 1);
    lua_Integer last = endPosition(luaL_optinteger(lua, 3, given), length);
    charge(lua, 1 + count(startPosition(given, length), last));
    return callOriginal(lua);
}

/// utf8.len(s, i, j): decodes the bytes from i to j.
int utf8Length(lua_State* lua) {
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &length);
    lua_Integer first = utf8Position(luaL_optinteger(lua, 2, 1), length);
    lua_Integer last = utf8Position(luaL_optinteger(lua, 3, -1), length);
    charge(lua, 1 + count(first, last) / kBytesPerUnit);
    return callOriginal(lua);
}

/// utf8.codepoint(s, i, j): one value per character from i to j.
int utf8Codepoint(lua_State* lua) {
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &length);
    lua_Integer first = utf8Position(luaL_optinteger(lua, 2, 1), length);
    lua_Integer last = utf8Position(luaL_optinteger(lua, 3, first), length);
    charge(lua, 1 + count(first, last));
    return callOriginal(lua);
}

/// utf8.offset(s, n, i): walks from i; how far is known from the result. One call's walk is at
/// most the string, which the memory limit bounds.
int utf8Offset(lua_State* lua) {
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &length);
    lua_Integer n = luaL_checkinteger(lua, 2);
    lua_Integer from = utf8Position(
        luaL_optinteger(lua, 3, n >= 0 ? 1 : static_cast<lua_Integer>(length) + 1), length);
    int results = callOriginal(lua);
    std::uint64_t walked = length;
    if (lua_isinteger(lua, -1) != 0) {
        lua_Integer to = lua_tointeger(lua, -1);
        walked = to > from ? count(from, to) : count(to, from);
    }
    charge(lua, 1 + walked / kBytesPerUnit);
    return results;
}

/// The iterator utf8.codes returns, wrapped (upvalue 1: Lua's): each step skips continuation
/// bytes, however many a string has, before decoding one character.
int utf8CodesStep(lua_State* lua) {
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &length);
    lua_Integer from = lua_tointeger(lua, 2);
    int results = callOriginal(lua);
    lua_Integer to = results == 2 ? lua_tointeger(lua, -2) : static_cast<lua_Integer>(length);
    charge(lua, 1 + count(from, to) / kBytesPerUnit);
    return results;
}

int utf8Codes(lua_State* lua) {
    int results = callOriginal(lua);  // the iterator, the string, 0
    lua_pushvalue(lua, -results);
    lua_pushcclosure(lua, utf8CodesStep, 1);
    lua_replace(lua, -results - 1);
    return results;
}

/// string.unpack(fmt, s, pos): the format, then what it read (known from the next position).
int unpack(lua_State* lua) {
    std::size_t formatLength = 0;
    std::size_t length = 0;
    luaL_checklstring(lua, 1, &formatLength);
    luaL_checklstring(lua, 2, &length);
    lua_Integer from = startPosition(luaL_optinteger(lua, 3, 1), length);
    charge(lua, 1 + formatLength / kBytesPerUnit);
    int results = callOriginal(lua);
    lua_Integer next = lua_tointeger(lua, -1);
    charge(lua, static_cast<std::uint64_t>(results) + count(from, next) / LuaState::kBytesPerUnit);
    return results;
}

/// A load reader (upvalue 1: the script's), charged for what it returns.
int loadReader(lua_State* lua) {
    lua_pushvalue(lua, lua_upvalueindex(1));
    lua_call(lua, 0, 1);
    if (lua_type(lua, -1) == LUA_TSTRING) {
        charge(lua, 1 + lua_rawlen(lua, -1) / kBytesPerUnit);
    }
    return 1;
}

/// load(chunk, ...): compiling costs about as much per byte as case mapping.
int load(lua_State* lua) {
    if (lua_type(lua, 1) == LUA_TSTRING) {
        charge(lua, 1 + lua_rawlen(lua, 1) / kBytesPerUnit);
    } else if (lua_type(lua, 1) == LUA_TFUNCTION) {
        lua_pushvalue(lua, 1);
        lua_pushcclosure(lua, loadReader, 1);
        lua_replace(lua, 1);
    }
    return callOriginal(lua);
}

/// collectgarbage: a full collection (or a step, which may finish one) visits the whole heap.
int collectGarbage(lua_State* lua) {
    const char* option = lua_type(lua, 1) == LUA_TSTRING ? lua_tostring(lua, 1) : nullptr;
    if (lua_isnoneornil(lua, 1) || (option != nullptr && (std::strcmp(option, "collect") == 0 ||
                                                          std::strcmp(option, "step") == 0))) {
        LuaState& state = LuaState::of(lua);
        state.charge(lua, 1 + state.memoryUsed() / LuaState::kBytesPerUnit);
    }
    return callOriginal(lua);
}

/// Replaces library[name] (the global table for nullptr) by `wrapper` over the original.
void wrap(lua_State* lua, const char* library, const char* name, lua_CFunction wrapper) {
    if (library != nullptr) {
        lua_getglobal(lua, library);
    } else {
        lua_pushglobaltable(lua);
    }
    lua_getfield(lua, -1, name);
    lua_pushcclosure(lua, wrapper, 1);
    lua_setfield(lua, -2, name);
    lua_pop(lua, 1);
}

}  // namespace

void LuaMeteredLibrary::install(lua_State* lua) {
    for (const char* name : {"upper", "lower", "reverse", "format", "char", "pack", "packsize"}) {
        wrap(lua, LUA_STRLIBNAME, name, chargeArguments);
    }
    wrap(lua, LUA_STRLIBNAME, "byte", byte);
    wrap(lua, LUA_STRLIBNAME, "unpack", unpack);
    wrap(lua, LUA_UTF8LIBNAME, "char", chargeArguments);
    wrap(lua, LUA_UTF8LIBNAME, "len", utf8Length);
    wrap(lua, LUA_UTF8LIBNAME, "codepoint", utf8Codepoint);
    wrap(lua, LUA_UTF8LIBNAME, "offset", utf8Offset);
    wrap(lua, LUA_UTF8LIBNAME, "codes", utf8Codes);
    wrap(lua, nullptr, "tonumber", chargeArguments);
    wrap(lua, nullptr, "load", load);
    wrap(lua, nullptr, "collectgarbage", collectGarbage);
}

}  // namespace switchboard
