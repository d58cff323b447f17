// Conversion between RapidJSON values and Lua values (see LuaConvert.h).
#include "lua/LuaConvert.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>

#include "switchboard/Utf8.h"

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

/// One Lua -> JSON conversion: where values go, what it may still spend, and, when a string is
/// not UTF-8, the path to it (built while the recursion unwinds, so only on failure).
struct Conversion {
    enum class Bad { None, Text, Key };
    Allocator& allocator;
    std::string& error;
    std::uint64_t& units;
    Bad bad = Bad::None;
    std::string path;
};

bool spend(Conversion& conversion, std::uint64_t cost) {
    if (conversion.units < cost) {
        conversion.units = 0;
        conversion.error = LuaConvert::kOverBudget;
        return false;
    }
    conversion.units -= cost;
    return true;
}

/// The string at `index` (a Lua string, not a number), paid for and checked for UTF-8.
bool text(lua_State* lua, int index, Conversion& conversion, Conversion::Bad bad,
          std::string_view& out) {
    std::size_t length = 0;
    const char* data = lua_tolstring(lua, index, &length);
    if (!spend(conversion, length / LuaConvert::kBytesPerUnit)) {
        return false;
    }
    out = std::string_view(data, length);
    if (!validUtf8(out)) {
        conversion.bad = bad;
        return false;
    }
    return true;
}

/// Names a key of an object table; false for keys JSON cannot name (tables, functions) or
/// strings that are not UTF-8 (conversion.bad says which).
bool keyName(lua_State* lua, int index, rapidjson::Value& name, Conversion& conversion) {
    char number[64];
    switch (lua_type(lua, index)) {
        case LUA_TSTRING: {
            std::string_view key;
            if (!text(lua, index, conversion, Conversion::Bad::Key, key)) {
                return false;
            }
            name.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()),
                           conversion.allocator);
            return true;
        }
        case LUA_TNUMBER:
            if (lua_isinteger(lua, index)) {
                std::snprintf(number, sizeof number, "%lld",
                              static_cast<long long>(lua_tointeger(lua, index)));
            } else {
                std::snprintf(number, sizeof number, "%.14g", lua_tonumber(lua, index));
            }
            name.SetString(number, conversion.allocator);
            return true;
        case LUA_TBOOLEAN:
            name.SetString(lua_toboolean(lua, index) ? "true" : "false", conversion.allocator);
            return true;
        default:
            conversion.error =
                std::string("cannot convert ") + luaL_typename(lua, index) + " key to JSON";
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

bool convert(lua_State* lua, int index, rapidjson::Value& out, Conversion& conversion, int depth);

/// Prefixes the path of a bad string found below with `segment`.
bool below(Conversion& conversion, const std::string& segment) {
    if (conversion.bad != Conversion::Bad::None) {
        conversion.path = segment + conversion.path;
    }
    return false;
}

bool convertTable(lua_State* lua, int index, rapidjson::Value& out, Conversion& conversion,
                  int depth) {
    if (depth >= LuaConvert::kMaxDepth || !lua_checkstack(lua, 4)) {
        conversion.error = "value nested too deeply";
        return false;
    }
    lua_Integer count = 0;
    if (isSequence(lua, index, count)) {
        out.SetArray();
        out.Reserve(static_cast<rapidjson::SizeType>(count), conversion.allocator);
        for (lua_Integer i = 1; i <= count; ++i) {
            lua_rawgeti(lua, index, i);
            rapidjson::Value item;
            bool ok = convert(lua, lua_gettop(lua), item, conversion, depth + 1);
            lua_pop(lua, 1);
            if (!ok) {
                return below(conversion, "[" + std::to_string(i) + "]");
            }
            out.PushBack(item, conversion.allocator);
        }
        return true;
    }
    out.SetObject();
    lua_pushnil(lua);
    while (lua_next(lua, index) != 0) {
        int top = lua_gettop(lua);
        rapidjson::Value name;
        rapidjson::Value item;
        if (!keyName(lua, top - 1, name, conversion)) {
            lua_pop(lua, 2);
            return false;
        }
        if (!convert(lua, top, item, conversion, depth + 1)) {
            lua_pop(lua, 2);
            return below(conversion, "." + std::string(name.GetString(), name.GetStringLength()));
        }
        // nil values never appear in lua_next, so every entry becomes a member.
        out.AddMember(name, item, conversion.allocator);
        lua_pop(lua, 1);
    }
    return true;
}

bool convert(lua_State* lua, int index, rapidjson::Value& out, Conversion& conversion, int depth) {
    if (!spend(conversion, LuaConvert::kUnitsPerValue)) {
        return false;
    }
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
                conversion.error = "cannot convert non-finite number to JSON";
                return false;
            }
            out.SetDouble(lua_tonumber(lua, index));
            return true;
        case LUA_TSTRING: {
            std::string_view value;
            if (!text(lua, index, conversion, Conversion::Bad::Text, value)) {
                return false;
            }
            out.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()),
                          conversion.allocator);
            return true;
        }
        case LUA_TTABLE:
            return convertTable(lua, index, out, conversion, depth);
        default:
            conversion.error =
                std::string("cannot convert ") + luaL_typename(lua, index) + " to JSON";
            return false;
    }
}

}  // namespace

void LuaConvert::push(lua_State* lua, const rapidjson::Value& value) {
    pushValue(lua, value, 0);
}

bool LuaConvert::toJson(lua_State* lua, int index, rapidjson::Value& out, Allocator& allocator,
                        std::string& error, std::uint64_t& units, const std::string& name) {
    Conversion conversion{allocator, error, units, Conversion::Bad::None, {}};
    if (convert(lua, lua_absindex(lua, index), out, conversion, 0)) {
        return true;
    }
    if (conversion.bad == Conversion::Bad::Text) {
        error = name + conversion.path + " is not valid UTF-8";
    } else if (conversion.bad == Conversion::Bad::Key) {
        error = "a key in " + name + conversion.path + " is not valid UTF-8";
    }
    return false;
}

bool LuaConvert::toJsonText(lua_State* lua, int index, std::string& text, std::string& error,
                            std::uint64_t& units, const std::string& name) {
    rapidjson::Document document;
    if (!toJson(lua, index, document, document.GetAllocator(), error, units, name)) {
        return false;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    document.Accept(writer);
    text.assign(buffer.GetString(), buffer.GetSize());
    return true;
}

std::string LuaConvert::repairUtf8(std::string_view text) {
    if (validUtf8(text)) {
        return std::string(text);
    }
    std::string repaired;
    repaired.reserve(text.size() + 16);
    for (std::size_t i = 0; i < text.size();) {
        auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (i + length <= text.size() && validUtf8(text.substr(i, length))) {
            repaired.append(text.substr(i, length));
            i += length;
        } else {
            repaired += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        }
    }
    return repaired;
}

}  // namespace switchboard
