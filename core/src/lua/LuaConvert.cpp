// Conversion between RapidJSON values and Lua values (see LuaConvert.h).
#include "lua/LuaConvert.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>

namespace switchboard {

namespace {

using Allocator = rapidjson::Document::AllocatorType;

void pushValue(lua_State* lua, const rapidjson::Value& value, int depth) {
    switch (value.GetType()) {
        case rapidjson::kNullType:
            lua_pushnil(lua);
            return;
        case rapidjson::kFalseType:
            lua_pushboolean(lua, 0);
            return;
        case rapidjson::kTrueType:
            lua_pushboolean(lua, 1);
            return;
        case rapidjson::kNumberType:
            if (value.IsInt64()) {
                lua_pushinteger(lua, value.GetInt64());
            } else {
                lua_pushnumber(lua, value.GetDouble());
            }
            return;
        case rapidjson::kStringType:
            lua_pushlstring(lua, value.GetString(), value.GetStringLength());
            return;
        default:
            break;
    }
    if (depth >= LuaConvert::kMaxDepth) {
        luaL_error(lua, "value nested too deeply");
    }
    luaL_checkstack(lua, 3, "value nested too deeply");
    if (value.IsArray()) {
        lua_createtable(lua, static_cast<int>(value.Size()), 0);
        lua_Integer i = 1;
        for (const rapidjson::Value& item : value.GetArray()) {
            pushValue(lua, item, depth + 1);
            lua_rawseti(lua, -2, i++);
        }
        return;
    }
    lua_createtable(lua, 0, static_cast<int>(value.MemberCount()));
    for (const auto& member : value.GetObject()) {
        lua_pushlstring(lua, member.name.GetString(), member.name.GetStringLength());
        pushValue(lua, member.value, depth + 1);
        lua_rawset(lua, -3);
    }
}

/// Names a key of an object table; false for keys JSON cannot name (tables, functions).
bool keyName(lua_State* lua, int index, rapidjson::Value& name, Allocator& allocator) {
    char number[64];
    switch (lua_type(lua, index)) {
        case LUA_TSTRING: {
            std::size_t length = 0;
            const char* text = lua_tolstring(lua, index, &length);
            name.SetString(text, static_cast<rapidjson::SizeType>(length), allocator);
            return true;
        }
        case LUA_TNUMBER:
            if (lua_isinteger(lua, index)) {
                std::snprintf(number, sizeof number, "%lld",
                              static_cast<long long>(lua_tointeger(lua, index)));
            } else {
                std::snprintf(number, sizeof number, "%.14g", lua_tonumber(lua, index));
            }
            name.SetString(number, allocator);
            return true;
        case LUA_TBOOLEAN:
            name.SetString(lua_toboolean(lua, index) ? "true" : "false", allocator);
            return true;
        default:
            return false;
    }
}

/// Counts the entries of the table at `index` and tells whether its keys are exactly 1..n.
bool isSequence(lua_State* lua, int index, lua_Integer& count) {
    count = 0;
    bool sequence = true;
    lua_pushnil(lua);
    while (lua_next(lua, index) != 0) {
        ++count;
        if (!lua_isinteger(lua, -2) || lua_tointeger(lua, -2) < 1) {
            sequence = false;
        }
        lua_pop(lua, 1);
    }
    if (!sequence || count == 0) {
        return false;
    }
    // Integer keys >= 1, all distinct: they are 1..count exactly when none exceeds count.
    lua_pushnil(lua);
    while (lua_next(lua, index) != 0) {
        if (lua_tointeger(lua, -2) > count) {
            sequence = false;
        }
        lua_pop(lua, 1);
    }
    return sequence;
}

bool convert(lua_State* lua, int index, rapidjson::Value& out, Allocator& allocator,
             std::string& error, int depth);

bool convertTable(lua_State* lua, int index, rapidjson::Value& out, Allocator& allocator,
                  std::string& error, int depth) {
    if (depth >= LuaConvert::kMaxDepth || !lua_checkstack(lua, 4)) {
        error = "value nested too deeply";
        return false;
    }
    lua_Integer count = 0;
    if (isSequence(lua, index, count)) {
        out.SetArray();
        out.Reserve(static_cast<rapidjson::SizeType>(count), allocator);
        for (lua_Integer i = 1; i <= count; ++i) {
            lua_rawgeti(lua, index, i);
            rapidjson::Value item;
            bool ok = convert(lua, lua_gettop(lua), item, allocator, error, depth + 1);
            lua_pop(lua, 1);
            if (!ok) {
                return false;
            }
            out.PushBack(item, allocator);
        }
        return true;
    }
    out.SetObject();
    lua_pushnil(lua);
    while (lua_next(lua, index) != 0) {
        int top = lua_gettop(lua);
        rapidjson::Value name;
        rapidjson::Value item;
        if (!keyName(lua, top - 1, name, allocator)) {
            error = std::string("cannot convert ") + luaL_typename(lua, top - 1) + " key to JSON";
            lua_pop(lua, 2);
            return false;
        }
        if (!convert(lua, top, item, allocator, error, depth + 1)) {
            lua_pop(lua, 2);
            return false;
        }
        // nil values never appear in lua_next, so every entry becomes a member.
        out.AddMember(name, item, allocator);
        lua_pop(lua, 1);
    }
    return true;
}

bool convert(lua_State* lua, int index, rapidjson::Value& out, Allocator& allocator,
             std::string& error, int depth) {
    switch (lua_type(lua, index)) {
        case LUA_TNIL:
        case LUA_TNONE:
            out.SetNull();
            return true;
        case LUA_TBOOLEAN:
            out.SetBool(lua_toboolean(lua, index) != 0);
            return true;
        case LUA_TNUMBER:
            if (lua_isinteger(lua, index)) {
                out.SetInt64(lua_tointeger(lua, index));
                return true;
            }
            if (!std::isfinite(lua_tonumber(lua, index))) {
                error = "cannot convert non-finite number to JSON";
                return false;
            }
            out.SetDouble(lua_tonumber(lua, index));
            return true;
        case LUA_TSTRING: {
            std::size_t length = 0;
            const char* text = lua_tolstring(lua, index, &length);
            out.SetString(text, static_cast<rapidjson::SizeType>(length), allocator);
            return true;
        }
        case LUA_TTABLE:
            return convertTable(lua, index, out, allocator, error, depth);
        default:
            error = std::string("cannot convert ") + luaL_typename(lua, index) + " to JSON";
            return false;
    }
}

}  // namespace

void LuaConvert::push(lua_State* lua, const rapidjson::Value& value) {
    pushValue(lua, value, 0);
}

bool LuaConvert::toJson(lua_State* lua, int index, rapidjson::Value& out, Allocator& allocator,
                        std::string& error) {
    return convert(lua, lua_absindex(lua, index), out, allocator, error, 0);
}

bool LuaConvert::toJsonText(lua_State* lua, int index, std::string& text, std::string& error) {
    rapidjson::Document document;
    if (!toJson(lua, index, document, document.GetAllocator(), error)) {
        return false;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    document.Accept(writer);
    text.assign(buffer.GetString(), buffer.GetSize());
    return true;
}

}  // namespace switchboard
