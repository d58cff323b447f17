// Conversion between RapidJSON values and Lua values, used for hook arguments and results and
// by the json/store/bus script API.
#pragma once

#include <rapidjson/document.h>
#include <lua.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/Lua.h"

namespace switchboard {

/// Stateless conversion helpers. JSON -> Lua: objects and arrays become tables, null becomes nil.
/// Lua -> JSON: nil -> null, integers stay integers, a table whose keys are exactly 1..n is an
/// array, any other table an object (number and boolean keys are stringified), {} is an object.
/// Strings (values and keys) must be UTF-8: what Lua hands the host ends up in JSON the host
/// emits.
class LuaConvert {
public:
    /// Deepest table nesting converted either way; deeper values (and cycles) are an error.
    static constexpr int kMaxDepth = static_cast<int>(Lua::kMaxDepth);
    /// Lua -> JSON costs instructions per value (building one takes 100-300 ns) and one per
    /// this many bytes of string: tables may share subtables, so a few bytes of Lua can stand
    /// for 2^31 values.
    static constexpr std::uint64_t kUnitsPerValue = 16;
    static constexpr std::size_t kBytesPerUnit = 16;
    /// The error of a conversion that ran out of instructions.
    static constexpr const char* kOverBudget = "instruction budget exceeded";

    /// Pushes `value` onto the Lua stack. Raises a Lua error ("value nested too deeply", or
    /// out of memory), so call it only in protected mode with no C++ objects to unwind.
    static void push(lua_State* lua, const rapidjson::Value& value);

    /// Converts the Lua value at `index` into `out`, allocating from `allocator`, spending at
    /// most `units` instructions (decreased by what it spent). Returns false and sets `error`
    /// ("value nested too deeply", "cannot convert function to JSON", kOverBudget,
    /// "<name>.text is not valid UTF-8", "a key in <name>.tags is not valid UTF-8", where
    /// `name` names the value). Never raises a Lua error: it uses only Lua API calls that
    /// cannot fail.
    static bool toJson(lua_State* lua, int index, rapidjson::Value& out,
                       rapidjson::Document::AllocatorType& allocator, std::string& error,
                       std::uint64_t& units, const std::string& name);

    /// toJson() serialised to compact JSON text in `text`.
    static bool toJsonText(lua_State* lua, int index, std::string& text, std::string& error,
                           std::uint64_t& units, const std::string& name);

    /// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: for
    /// log lines and error messages, which must be written whatever a script put in them.
    static std::string repairUtf8(std::string_view text);
};

}  // namespace switchboard
