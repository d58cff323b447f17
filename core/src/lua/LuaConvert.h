// Conversion between RapidJSON values and Lua values, used for hook arguments and results and
// by the json/store/bus script API.
#pragma once

#include <rapidjson/document.h>
#include <lua.hpp>

#include <string>

namespace switchboard {

/// Stateless conversion helpers. JSON -> Lua: objects and arrays become tables, null becomes nil.
/// Lua -> JSON: nil -> null, integers stay integers, a table whose keys are exactly 1..n is an
/// array, any other table an object (number and boolean keys are stringified), {} is an object.
class LuaConvert {
public:
    /// Deepest table nesting converted either way; deeper values (and cycles) are an error.
    static constexpr int kMaxDepth = 32;

    /// Pushes `value` onto the Lua stack. Raises a Lua error ("value nested too deeply", or
    /// out of memory), so call it only in protected mode with no C++ objects to unwind.
    static void push(lua_State* lua, const rapidjson::Value& value);

    /// Converts the Lua value at `index` into `out`, allocating from `allocator`. Returns false
    /// and sets `error` ("value nested too deeply", "cannot convert function to JSON", ...).
    /// Never raises a Lua error: it uses only Lua API calls that cannot fail.
    static bool toJson(lua_State* lua, int index, rapidjson::Value& out,
                       rapidjson::Document::AllocatorType& allocator, std::string& error);

    /// toJson() serialised to compact JSON text in `text`.
    static bool toJsonText(lua_State* lua, int index, std::string& text, std::string& error);
};

}  // namespace switchboard
