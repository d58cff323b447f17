// Calling operator Lua hooks. The host owns the scripts, sandbox, budgets and reloads; a plugin
// only asks whether a hook exists and calls it with JSON-shaped arguments.
#pragma once

#include <rapidjson/document.h>

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
    virtual ~Lua() = default;
    /// True if the loaded scripts define a global function of that name.
    virtual bool hasHook(const std::string& name) const = 0;
    /// Calls a hook in this thread's Lua state. Arguments are converted to Lua values (objects
    /// and arrays become tables). Never throws.
    virtual LuaResult call(const std::string& name,
                           const std::vector<const rapidjson::Value*>& args) = 0;
};

}  // namespace switchboard
