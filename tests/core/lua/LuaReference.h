// Test support for the sandbox's own library functions: the same code runs in a sandboxed
// LuaState and in a plain lua_State with Lua's standard library, and the outcomes must match.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

#include "lua/LuaState.h"

namespace switchboard::test {

/// Runs `run(code)` in both states; run() pcalls the code and describes every value returned.
inline const char* const kProbe = R"lua(
local function escaped(s)
    local out = {}
    for i = 1, #s do
        local b = s:byte(i)
        out[i] = (b >= 32 and b < 127 and b ~= 92) and string.char(b) or ("\\" .. b .. ";")
    end
    return table.concat(out)
end
local function describe(...)
    local parts = { tostring(select("#", ...)) }
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        if type(v) == "string" then
            parts[#parts + 1] = "s:" .. escaped(v)
        elseif type(v) == "number" then
            parts[#parts + 1] = math.type(v) .. ":" .. tostring(v)
        else
            parts[#parts + 1] = type(v) .. ":" .. tostring(v ~= nil and v ~= false)
        end
    end
    return table.concat(parts, " | ")
end
function run(code)
    return describe(pcall(assert(load(code, "=case"))))
end
)lua";

/// `text` as a Lua string literal.
inline std::string literal(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == ' ') {
            out += static_cast<char>(c);
        } else {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\%03u", c);
            out += escape;
        }
    }
    return out + "\"";
}

/// Fixture: same(code) runs `code` (a chunk, results returned) in both states.
class LuaReferenceTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(sandboxed.run({"probe.lua", kProbe}), "");
        luaL_openlibs(reference);
        ASSERT_EQ(luaL_loadbuffer(reference, kProbe, std::strlen(kProbe), "@probe.lua"), LUA_OK);
        ASSERT_EQ(lua_pcall(reference, 0, 0, 0), LUA_OK);
    }
    void TearDown() override { lua_close(reference); }

    std::string inReference(const std::string& code) {
        lua_getglobal(reference, "run");
        lua_pushlstring(reference, code.data(), code.size());
        if (lua_pcall(reference, 1, 1, 0) != LUA_OK) {
            std::string error = lua_tostring(reference, -1);
            lua_pop(reference, 1);
            return "probe failed: " + error;
        }
        std::string out = lua_tostring(reference, -1);
        lua_pop(reference, 1);
        return out;
    }
    std::string inSandbox(const std::string& code) {
        rapidjson::Value text(rapidjson::StringRef(code.data(), code.size()));
        LuaResult result;
        if (sandboxed.call("run", {&text}, result) != LuaState::Outcome::Ok) {
            return "probe failed: " + result.error;
        }
        return result.values[0].GetString();
    }
    /// Expects the same outcome in both states; returns it.
    std::string same(const std::string& code) {
        std::string expected = inReference(code);
        EXPECT_EQ(inSandbox(code), expected) << code;
        return expected;
    }

    LuaState sandboxed{nullptr, nullptr, LuaState::Purpose::Serve, 1000000000, 256 << 20, 1};
    lua_State* reference = luaL_newstate();
};

}  // namespace switchboard::test
