// Calling operator Lua hooks. The host owns the scripts, sandbox, budgets and reloads; a plugin
// only asks whether a hook exists and calls it with JSON-shaped arguments.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <vector>

namespace switchboard {

struct LuaResult {
    bool ok = false;
    /// Why the call failed: the Lua error message, "instruction budget exceeded",
    /// "memory limit exceeded", or "hook not defined".
    std::string error;
    /// The hook's return values as a JSON array (nil -> null, tables -> objects/arrays).
    rapidjson::Document values{rapidjson::kArrayType};
};

class Lua {
public:
    /// Deepest nesting of objects and arrays (json::depth) a hook argument or result may have;
    /// a deeper argument fails the call. Plugins check client input against it first and
    /// answer 400: that call would fail because of what the client sent.
    static constexpr std::size_t kMaxDepth = 32;

    virtual ~Lua() = default;
    /// True if the loaded scripts define a global function of that name.
    virtual bool hasHook(const std::string& name) const = 0;
    /// Calls a hook in this thread's Lua state. Arguments are converted to Lua values (objects
    /// and arrays become tables). Never throws.
    virtual LuaResult call(const std::string& name,
                           const std::vector<const rapidjson::Value*>& args) = 0;
};

}  // namespace switchboard
