// Lua value conversion (lua/LuaConvert) the way hooks use it: a JSON object is a hook argument
// (JSON -> Lua), the hook returns it (Lua -> JSON) under the sandbox's instruction budget and
// memory cap, in a real sandboxed LuaState. Checked: the round trip gives exactly the value the
// documented mapping predicts (null members vanish, arrays with holes and empty arrays become
// objects, integers stay integers), nesting past kMaxDepth is the documented error, and
// json.encode(json.decode(text)) inside the sandbox agrees with it and never hands the host a
// string that is not UTF-8 or not JSON.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "FuzzCheck.h"
#include "lua/LuaConvert.h"
#include "lua/LuaState.h"
#include "switchboard/Json.h"
#include "switchboard/Utf8.h"

using switchboard::LuaConvert;
using switchboard::LuaResult;
using switchboard::LuaState;

namespace {

using Allocator = rapidjson::Document::AllocatorType;

const char* kScript = R"(
function echo(value) return value end
function codec(text)
  local ok, value = pcall(json.decode, text)
  if not ok then return nil end
  local ok2, encoded = pcall(json.encode, value)
  if not ok2 then return nil end
  return encoded
end
)";

std::unique_ptr<LuaState> makeState() {
    auto state = std::make_unique<LuaState>(nullptr, nullptr, LuaState::Purpose::Serve, 1000000,
                                            32u << 20, 1);
    std::string problem = state->run({"fuzz.lua", kScript});
    FUZZ_CHECK(problem.empty());
    return state;
}

/// Container nesting of `v` (a scalar is 0).
int depthOf(const rapidjson::Value& v) {
    int deepest = 0;
    if (v.IsArray()) {
        for (const auto& item : v.GetArray()) {
            deepest = std::max(deepest, depthOf(item));
        }
        return deepest + 1;
    }
    if (v.IsObject()) {
        for (const auto& member : v.GetObject()) {
            deepest = std::max(deepest, depthOf(member.value));
        }
        return deepest + 1;
    }
    return 0;
}

/// What the documented mapping turns `v` into after JSON -> Lua -> JSON.
void expected(const rapidjson::Value& v, rapidjson::Value& out, Allocator& a) {
    if (v.IsNumber()) {
        if (v.IsInt64()) {
            out.SetInt64(v.GetInt64());
        } else {
            out.SetDouble(v.GetDouble());
        }
        return;
    }
    if (!v.IsArray() && !v.IsObject()) {
        out.CopyFrom(v, a);
        return;
    }
    // Lua tables: later keys replace earlier ones, nil removes.
    std::map<std::string, const rapidjson::Value*> entries;
    std::map<std::size_t, const rapidjson::Value*> items;
    if (v.IsArray()) {
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
            if (!v[i].IsNull()) {
                items[i + 1] = &v[i];
            }
        }
    } else {
        for (const auto& m : v.GetObject()) {
            std::string key(m.name.GetString(), m.name.GetStringLength());
            if (m.value.IsNull()) {
                entries.erase(key);
            } else {
                entries[key] = &m.value;
            }
        }
    }
    bool sequence = !items.empty() && items.rbegin()->first == items.size();
    if (sequence) {
        out.SetArray();
        for (const auto& [index, item] : items) {
            rapidjson::Value converted;
            expected(*item, converted, a);
            out.PushBack(converted, a);
        }
        return;
    }
    for (const auto& [index, item] : items) {
        entries[std::to_string(index)] = item;
    }
    out.SetObject();
    for (const auto& [key, item] : entries) {
        rapidjson::Value converted;
        expected(*item, converted, a);
        out.AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), a),
                      converted, a);
    }
}

/// Equal values, numbers of the same kind, object members in any order.
bool same(const rapidjson::Value& x, const rapidjson::Value& y) {
    if (x.GetType() != y.GetType()) {
        return false;
    }
    if (x.IsNumber()) {
        if (x.IsDouble() != y.IsDouble()) {
            return false;
        }
        // RapidJSON's default number parsing is within a few ulps (see json_body_fuzz.cpp): a
        // double that went through json.encode and back may move by that much.
        if (x.IsDouble()) {
            double a = x.GetDouble();
            double b = y.GetDouble();
            return a == b || std::fabs(a - b) <= 1e-15 * std::max(std::fabs(a), std::fabs(b));
        }
        return x.GetInt64() == y.GetInt64();
    }
    if (x.IsString()) {
        return std::string_view(x.GetString(), x.GetStringLength()) ==
               std::string_view(y.GetString(), y.GetStringLength());
    }
    if (x.IsArray()) {
        if (x.Size() != y.Size()) {
            return false;
        }
        for (rapidjson::SizeType i = 0; i < x.Size(); ++i) {
            if (!same(x[i], y[i])) {
                return false;
            }
        }
        return true;
    }
    if (x.IsObject()) {
        if (x.MemberCount() != y.MemberCount()) {
            return false;
        }
        for (const auto& m : x.GetObject()) {
            auto it = y.FindMember(m.name);
            if (it == y.MemberEnd() || !same(m.value, it->value)) {
                return false;
            }
        }
        return true;
    }
    return true;  // null, true, false
}

bool endsWith(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static std::unique_ptr<LuaState> state = makeState();
    if (state->broken()) {
        state = makeState();
    }
    std::string_view text(reinterpret_cast<const char*>(data), size);
    rapidjson::Document doc;
    std::string error;
    bool parsed = switchboard::json::parseObject(text, doc, error);
    rapidjson::Document model;
    bool tooDeep = parsed && depthOf(doc) > LuaConvert::kMaxDepth;
    if (parsed && !tooDeep) {
        expected(doc, model, model.GetAllocator());
    }

    if (parsed) {
        LuaResult result;
        LuaState::Outcome outcome = state->call("echo", {&doc}, result);
        if (tooDeep) {
            FUZZ_CHECK(outcome == LuaState::Outcome::Failed);
            FUZZ_CHECK(endsWith(result.error, "value nested too deeply"));
        } else {
            FUZZ_CHECK(outcome == LuaState::Outcome::Ok);
            FUZZ_CHECK(result.values.Size() == 1);
            FUZZ_CHECK(same(result.values[0], model));
        }
    }

    // The script API: any bytes to json.decode, the value back through json.encode.
    rapidjson::Value arg(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    LuaResult result;
    LuaState::Outcome outcome = state->call("codec", {&arg}, result);
    FUZZ_CHECK(outcome == LuaState::Outcome::Ok || outcome == LuaState::Outcome::MemoryExceeded);
    if (outcome != LuaState::Outcome::Ok) {
        return 0;
    }
    FUZZ_CHECK(result.values.Size() == 1);
    const rapidjson::Value& encoded = result.values[0];
    if (encoded.IsNull()) {
        FUZZ_CHECK(!parsed || tooDeep);  // what parseObject accepts, json.decode does too
        return 0;
    }
    FUZZ_CHECK(encoded.IsString());
    std::string_view json(encoded.GetString(), encoded.GetStringLength());
    FUZZ_CHECK(switchboard::validUtf8(json));
    rapidjson::Document again;
    again.Parse(json.data(), json.size());
    FUZZ_CHECK(!again.HasParseError());
    if (parsed) {
        FUZZ_CHECK(same(again, model));
    }
    return 0;
}
