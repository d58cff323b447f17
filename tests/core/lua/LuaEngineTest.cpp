// Tests for the Lua engine: conversion, sandbox, budgets, script API, reload and threading, with
// an in-memory key-value store and a synchronous fake event bus.
#include "lua/LuaEngine.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "TestSupport.h"
#include "switchboard/Json.h"

namespace switchboard {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class MemoryStore : public KeyValueStore {
public:
    std::optional<std::string> get(const std::string& key) override {
        std::lock_guard<std::mutex> lock(_mutex);
        auto it = _values.find(key);
        return it == _values.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    void put(const std::string& key, const std::string& jsonValue) override {
        std::lock_guard<std::mutex> lock(_mutex);
        _values[key] = jsonValue;
    }
    void remove(const std::string& key) override {
        std::lock_guard<std::mutex> lock(_mutex);
        _values.erase(key);
    }
    std::map<std::string, std::string> values() {
        std::lock_guard<std::mutex> lock(_mutex);
        return _values;
    }

private:
    std::mutex _mutex;
    std::map<std::string, std::string> _values;
};

/// Delivers each event to the matching handlers on the publishing thread.
class FakeBus : public EventBus {
public:
    void publish(const std::string& topic, std::string payloadJson) override {
        std::vector<Handler> handlers;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _published.emplace_back(topic, payloadJson);
            for (const auto& [id, subscription] : _subscriptions) {
                if (matches(subscription.first, topic)) {
                    handlers.push_back(subscription.second);
                }
            }
        }
        Event event{topic, payloadJson, 0, {}};
        for (const Handler& handler : handlers) {
            handler(event);
        }
    }
    std::uint64_t subscribe(const std::string& pattern, Handler handler) override {
        std::lock_guard<std::mutex> lock(_mutex);
        _subscriptions[++_lastId] = {pattern, std::move(handler)};
        return _lastId;
    }
    void unsubscribe(std::uint64_t id) override {
        std::lock_guard<std::mutex> lock(_mutex);
        _subscriptions.erase(id);
    }
    BusStats stats() const override { return {}; }

    std::vector<std::string> patterns() {
        std::lock_guard<std::mutex> lock(_mutex);
        std::vector<std::string> patterns;
        for (const auto& [id, subscription] : _subscriptions) {
            patterns.push_back(subscription.first);
        }
        return patterns;
    }
    std::vector<std::pair<std::string, std::string>> published() {
        std::lock_guard<std::mutex> lock(_mutex);
        return _published;
    }

private:
    static bool matches(const std::string& pattern, const std::string& topic) {
        if (pattern == "*") {
            return true;
        }
        if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
            return topic.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
        }
        return pattern == topic;
    }

    std::mutex _mutex;
    std::uint64_t _lastId = 0;
    std::map<std::uint64_t, std::pair<std::string, Handler>> _subscriptions;
    std::vector<std::pair<std::string, std::string>> _published;
};

class LuaEngineTest : public ::testing::Test {
protected:
    /// Writes hooks.lua and loads it alone.
    void loadScript(const std::string& text, LuaOptions options = {}) {
        options.scripts = {script(text)};
        engine.load(options);
    }
    std::string script(const std::string& text, const std::string& name = "hooks.lua") {
        return dir.write(name, text);
    }
    /// Calls `name` with arguments given as JSON texts.
    LuaResult call(const std::string& name, const std::vector<std::string>& jsonArgs = {}) {
        std::vector<rapidjson::Document> documents(jsonArgs.size());
        std::vector<const rapidjson::Value*> args;
        for (std::size_t i = 0; i < jsonArgs.size(); ++i) {
            documents[i].Parse(jsonArgs[i].c_str());
            EXPECT_FALSE(documents[i].HasParseError()) << jsonArgs[i];
            args.push_back(&documents[i]);
        }
        return engine.call(name, args);
    }
    /// The JSON of a successful call's values, or "error: <reason>".
    std::string values(const std::string& name, const std::vector<std::string>& jsonArgs = {}) {
        LuaResult result = call(name, jsonArgs);
        return result.ok ? json::stringify(result.values) : "error: " + result.error;
    }
    std::string path() const { return dir.file("hooks.lua"); }

    test::TempDir dir;
    MemoryStore kv;
    FakeBus bus;
    LuaEngine engine{&kv, &bus};
};

TEST_F(LuaEngineTest, CallConvertsTableArgumentsAndReturnsEveryValue) {
    loadScript(R"(
        function shape(t, n, list)
            return t.a + n, { name = t.name }, nil, "s", { list[1], list[2] * 2 }, {}, 1.5,
                   t.z == nil, t.nested.deep[2]
        end
    )");
    LuaResult result = call(
        "shape", {R"({"a":2,"name":"x","z":null,"nested":{"deep":[true,"two"]}})", "3", "[10,20]"});
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_EQ(json::stringify(result.values),
              R"([5,{"name":"x"},null,"s",[10,40],{},1.5,true,"two"])");
    EXPECT_EQ(values("shape", {R"({"a":1.5,"nested":{"deep":[]}})", "1", "[1,2]"}),
              R"([2.5,{},null,"s",[1,4],{},1.5,true,null])");
}

TEST_F(LuaEngineTest, TablesBecomeArraysOnlyForKeysOneToN) {
    loadScript(R"(
        function tables()
            return { 1, 2, 3 }, { [1] = "a", [3] = "c" }, { 1, x = 2 }, { [true] = 1 },
                   { [2.5] = "f" }, { {} }
        end
    )");
    LuaResult result = call("tables");
    ASSERT_TRUE(result.ok) << result.error;
    rapidjson::Document expected;
    expected.Parse(R"([[1,2,3],{"1":"a","3":"c"},{"1":1,"x":2},{"true":1},{"2.5":"f"},[{}]])");
    EXPECT_TRUE(result.values == expected) << json::stringify(result.values);
}

TEST_F(LuaEngineTest, RuntimeErrorKeepsFileAndLine) {
    loadScript(
        "function fail()\n    local x = nil\n    return x.field\nend\n"
        "function boom()\n    error('boom')\nend\n"
        "function object()\n    error({})\nend\n");
    EXPECT_EQ(values("fail"), "error: " + path() + ":3: attempt to index a nil value (local 'x')");
    EXPECT_EQ(values("boom"), "error: " + path() + ":6: boom");
    EXPECT_EQ(values("object"), "error: (error object is a table value)");
    EXPECT_EQ(engine.stats().errors, 3u);
}

TEST_F(LuaEngineTest, InfiniteLoopExceedsBudgetAndTheNextCallWorks) {
    loadScript(R"(
        function spin() while true do end end
        function stubborn()
            while true do pcall(function() while true do end end) end
        end
        function spinInCoroutine() coroutine.wrap(function() while true do end end)() end
        function ok() local n = 0 for i = 1, 10000 do n = n + i end return n end
    )");
    EXPECT_EQ(values("spin"), "error: instruction budget exceeded");
    EXPECT_EQ(values("ok"), "[50005000]");
    EXPECT_EQ(values("stubborn"), "error: instruction budget exceeded");
    EXPECT_EQ(values("ok"), "[50005000]");
    EXPECT_EQ(values("spinInCoroutine"), "error: instruction budget exceeded");
    EXPECT_EQ(values("ok"), "[50005000]");
    LuaEngine::Stats stats = engine.stats();
    EXPECT_EQ(stats.budgetExceeded, 3u);
    EXPECT_EQ(stats.errors, 3u);
    EXPECT_EQ(stats.calls, 6u);
}

TEST_F(LuaEngineTest, NoProtectedCallEscapesTheBudget) {
    // Once over budget, an error raised from the instruction hook runs the xpcall message
    // handler with hooks off: a looping handler used to spin forever. pcall, xpcall and
    // coroutine.resume must all hand the budget error on instead of catching it.
    loadScript(R"(
        function handlerLoops()
            xpcall(function() error("x") end, function() while true do end end)
        end
        function spinThenHandlerLoops()
            xpcall(function() while true do end end, function() while true do end end)
        end
        function handlerCatchesAndGoesOn()
            while true do xpcall(function() while true do end end, function(e) return e end) end
        end
        function resumeCatches()
            while true do
                coroutine.resume(coroutine.create(function() while true do end end))
            end
        end
        function pcallInHandler()
            xpcall(function() while true do end end,
                   function() while true do pcall(function() while true do end end) end end)
        end
        function handlerWorks()
            local ok, e = xpcall(function() error("x") end, function(m) return "handled " .. m end)
            return ok, e
        end
        function pcallWorks()
            return pcall(function(a, b) return a + b end, 2, 3)
        end
        function resumeWorks()
            local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
            local _, first = coroutine.resume(co, 1)
            local _, second = coroutine.resume(co, 10)
            return first, second
        end
        function yieldInsidePcallInCoroutine()
            local co = coroutine.wrap(function()
                local ok, v = pcall(function() return coroutine.yield(1) + 1 end)
                return ok, v
            end)
            co()
            return co(41)
        end
    )");
    EXPECT_EQ(values("handlerLoops"), "error: instruction budget exceeded");
    EXPECT_EQ(values("spinThenHandlerLoops"), "error: instruction budget exceeded");
    EXPECT_EQ(values("handlerCatchesAndGoesOn"), "error: instruction budget exceeded");
    EXPECT_EQ(values("resumeCatches"), "error: instruction budget exceeded");
    EXPECT_EQ(values("pcallInHandler"), "error: instruction budget exceeded");
    EXPECT_EQ(values("handlerWorks"), "[false,\"handled " + path() + ":21: x\"]");
    EXPECT_EQ(values("pcallWorks"), "[true,5]");
    EXPECT_EQ(values("resumeWorks"), "[2,20]");
    EXPECT_EQ(values("yieldInsidePcallInCoroutine"), "[true,42]");
}

TEST_F(LuaEngineTest, SmallBudgetCountsInstructions) {
    LuaOptions options;
    options.instructionBudget = 5000;
    loadScript("function count(n) local s = 0 for i = 1, n do s = s + i end return s end", options);
    EXPECT_EQ(values("count", {"100"}), "[5050]");
    EXPECT_EQ(values("count", {"100000"}), "error: instruction budget exceeded");
    EXPECT_EQ(values("count", {"100"}), "[5050]");
}

TEST_F(LuaEngineTest, MemoryBombFailsAndTheNextCallWorks) {
    LuaOptions options;
    options.memoryLimit = 4 * 1024 * 1024;
    loadScript(R"(
        function hoard()
            hog = {}
            while true do hog[#hog + 1] = string.rep("x", 4096) .. #hog end
        end
        function huge() return #string.rep("x", 1 << 30) end
        function hogSize() return hog and #hog or 0 end
        function ok(t) return { n = t.n + 1 } end
    )",
               options);
    EXPECT_EQ(values("hoard"), "error: memory limit exceeded");
    EXPECT_EQ(values("ok", {R"({"n":1})"}), R"([{"n":2}])");
    EXPECT_EQ(values("hogSize"), "[0]");
    EXPECT_EQ(values("huge"), "error: memory limit exceeded");
    EXPECT_EQ(values("ok", {R"({"n":2})"}), R"([{"n":3}])");
    EXPECT_EQ(engine.stats().memoryExceeded, 2u);
}

TEST_F(LuaEngineTest, ReachingTheMemoryCapEndsTheCall) {
    // Lua runs a full collection for each allocation refused at the cap: with many live
    // objects, a script retrying under pcall spent 93 s before its instructions ran out.
    LuaOptions options;
    options.memoryLimit = 8 * 1024 * 1024;
    loadScript(R"(
        local keep = {}
        local function fill()
            for i = 1, 30000 do keep[i] = {} end
            local big = string.rep("x", 2 << 20)
            return function() return big .. big end
        end
        function retry()
            local grow = fill()
            while true do pcall(grow) end
        end
        function retryInCoroutine()
            local grow = fill()
            while true do coroutine.resume(coroutine.create(grow)) end
        end
        function ok() return "ok" end
    )",
               options);
    for (const char* hook : {"retry", "retryInCoroutine"}) {
        auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(values(hook), "error: memory limit exceeded") << hook;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << hook;
        EXPECT_EQ(values("ok"), R"(["ok"])");
    }
    EXPECT_EQ(engine.stats().memoryExceeded, 2u);
}

TEST_F(LuaEngineTest, AllocationIsChargedToTheBudget) {
    // One concatenation is one instruction however many bytes it copies.
    loadScript(R"(
        function copies(n)
            local s = string.rep("x", 2 << 20)
            for i = 1, n do local t = s .. "y" end
            return n
        end
        function small() local t = {} for i = 1, 1000 do t[i] = "item" .. i end return #t end
    )");
    auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(values("copies", {"10000"}), "error: instruction budget exceeded");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    EXPECT_EQ(values("copies", {"1"}), "[1]");
    EXPECT_EQ(values("small"), "[1000]");
}

TEST_F(LuaEngineTest, PathologicalPatternsStopAtTheBudget) {
    // Lua's matcher backtracks inside one C call the instruction hook cannot interrupt:
    // ".-.-x" on 1200 'a's took seconds, ".-.-.-x" on 5000 hours.
    loadScript(R"~(
        function cubic() return ("a"):rep(1200):find(".-.-x") end
        function quartic() return ("a"):rep(5000):find(".-.-.-x") end
        function method() local s = ("a"):rep(5000) return s:match(".-.-.-x") end
        function caught() return pcall(string.gsub, ("a"):rep(5000), ".-.-.-x", "") end
        function iterate() for w in ("a"):rep(5000):gmatch(".-.-.-x") do end end
        function balance() return (("("):rep(3000)):find("%b()") end
        function plain() return ("a"):rep(1e6):find(("a"):rep(2e5) .. "b", 1, true) end
        function emptyRep() return #string.rep("", 1 << 53) end
    )~");
    for (const char* hook :
         {"cubic", "quartic", "method", "caught", "iterate", "balance", "plain", "emptyRep"}) {
        auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(values(hook),
                  hook == std::string("emptyRep") ? "[0]" : "error: instruction budget exceeded")
            << hook;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << hook;
    }
    EXPECT_EQ(engine.stats().budgetExceeded, 7u);
}

TEST_F(LuaEngineTest, OrdinaryPatternsWorkUnderTheDefaultBudget) {
    loadScript(R"~(
        function pair() return ("key=value"):match("(%w+)=(%w+)") end
        function upper()
            local text = ("hello world "):rep(853)  -- 10 KB
            local out, n = text:gsub("%w+", string.upper)
            return #text, #out, n, out:sub(1, 12)
        end
        function trim()
            local text = ("x"):rep(5000) .. (" "):rep(5000)
            return #text:gsub("%s+$", "")
        end
        function words()
            local n = 0
            for word in (("lorem ipsum "):rep(850)):gmatch("%a+") do n = n + 1 end
            return n
        end
        function search()
            local text = ("abcdefgh"):rep(1280) .. "needle"
            return text:find("needle", 1, true), text:find("ne+dle")
        end
    )~");
    EXPECT_EQ(values("pair"), R"(["key","value"])");
    EXPECT_EQ(values("upper"), R"([10236,10236,1706,"HELLO WORLD "])");
    EXPECT_EQ(values("trim"), "[5000]");
    EXPECT_EQ(values("words"), "[1700]");
    EXPECT_EQ(values("search"), "[10241,10241,10246]");
}

TEST_F(LuaEngineTest, LibraryLoopsStopAtTheBudget) {
    // Each is one library call that Lua runs to its end without an instruction: insert, remove
    // and move over a length __len makes math.maxinteger used to run forever.
    loadScript(R"~(
        local long = setmetatable({}, { __len = function() return math.maxinteger - 1 end })
        function insert() table.insert(long, 1, 0) end
        function remove() table.remove(long, 1) end
        function move() table.move({}, 1, math.maxinteger - 1, 2) end
        function sort()
            local s, t = ("x"):rep(1 << 20), {}
            for i = 1, 10000 do t[i] = s end
            table.sort(t)
        end
        function collect()
            local keep = {}
            for i = 1, 100000 do keep[i] = {} end
            for i = 1, 2000 do collectgarbage() end
        end
        function decode()
            local s = ("\u{e9}"):rep(1 << 20)
            for i = 1, 5000 do utf8.len(s) end
        end
        function compile()
            local chunk = "return 1" .. (" "):rep(1 << 20)
            for i = 1, 5000 do load(chunk) end
        end
        function ordinary()
            local s, n = ("abc"):rep(10000), 0
            for i = 1, #s, 7 do n = n + s:byte(i) + #s:sub(i, i + 2):upper() end
            local t = {}
            for i = 1, 1000 do table.insert(t, 1, i) end
            table.sort(t)
            return n, table.concat(t, ",", 1, 3), utf8.len(s), #table.concat(t)
        end
    )~");
    for (const char* hook : {"insert", "remove", "move", "sort", "collect", "decode", "compile"}) {
        auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(values(hook), "error: instruction budget exceeded") << hook;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << hook;
    }
    EXPECT_EQ(values("ordinary"), R"([432885,"1,2,3",30000,2893])");
}

TEST_F(LuaEngineTest, StringsForTheHostMustBeUtf8) {
    // Hook results, bus payloads and stored values end up in JSON the host emits.
    loadScript(R"~(
        function text() return "caf\u{e9}", "\xff" end
        function nested() return { text = "ok", tags = { "a", ("\u{e9}"):sub(1, 1) } } end
        function key() return { ["\xc3("] = 1 } end
        function encode() return json.encode({ list = { { note = "\xe2\x82" } } }) end
        function publish() bus.publish("lua.note", { note = "\xed\xa0\x80" }) end
        function put() store.put("k", "\xf4\x90\x80\x80") end
        function putKey() store.put("\xc0\xaf", 1) end
        function fine() bus.publish("lua.note", { note = "\u{1F600}" }) store.put("k", "\u{e9}")
            return json.encode({ "\u{10FFFF}" })
        end
    )~");
    EXPECT_EQ(values("text"), "error: result 2 is not valid UTF-8");
    EXPECT_EQ(values("nested"), "error: result 1.tags[2] is not valid UTF-8");
    EXPECT_EQ(values("key"), "error: a key in result 1 is not valid UTF-8");
    EXPECT_EQ(values("encode"), "error: " + path() + ":5: value.list[1].note is not valid UTF-8");
    EXPECT_EQ(values("publish"),
              "error: " + path() + ":6: bus.publish: payload.note is not valid UTF-8");
    EXPECT_EQ(values("put"), "error: " + path() + ":7: store.put: value is not valid UTF-8");
    EXPECT_EQ(values("putKey"), "error: " + path() + ":8: store.put: the key is not valid UTF-8");
    EXPECT_TRUE(bus.published().empty());
    EXPECT_TRUE(kv.values().empty());
    EXPECT_EQ(values("fine"), "[\"[\\\"\xf4\x8f\xbf\xbf\\\"]\"]");
    EXPECT_EQ(kv.values().at("k"), "\"\xc3\xa9\"");
    EXPECT_EQ(engine.stats().errors, 7u);
}

TEST_F(LuaEngineTest, LogLinesAndErrorsReplaceBytesThatAreNotUtf8) {
    std::vector<std::string> messages;
    {
        test::LogCapture capture("switchboard.lua");
        loadScript(
            "function say() log.info('a\\255b', 'caf\\195\\169') end\n"
            "function fail() error('bad \\255') end\n"
            "function spin() load('while true do end', '=\\255')() end\n");
        EXPECT_EQ(values("say"), "[]");
        EXPECT_EQ(values("fail"), "error: " + path() + ":2: bad \xEF\xBF\xBD");
        EXPECT_EQ(values("spin"), "error: instruction budget exceeded");
        messages = capture.messages();
    }
    ASSERT_GE(messages.size(), 3u);
    EXPECT_EQ(messages[messages.size() - 3], path() +
                                                 ":1: a\xEF\xBF\xBD"
                                                 "b\tcaf\xC3\xA9");
    EXPECT_EQ(messages[messages.size() - 2],
              "Lua hook fail failed: " + path() + ":2: bad \xEF\xBF\xBD");
    EXPECT_EQ(messages.back(), "Lua hook spin: instruction budget exceeded at ?:1");
}

TEST_F(LuaEngineTest, SharedSubtablesAreChargedPerVisit) {
    // A table of 30 levels of {t, t} is a few KB of Lua and 2^30 values of JSON.
    loadScript(R"(
        local function dag(depth) local t = {} for i = 1, depth do t = { t, t } end return t end
        function result() return dag(30) end
        function encode() return #json.encode(dag(30)) end
        function publish() bus.publish("lua.x", { dag = dag(30) }) end
        function small() return #json.encode(dag(8)), dag(3) end
    )");
    for (const char* hook : {"result", "encode", "publish"}) {
        auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(values(hook), "error: instruction budget exceeded") << hook;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << hook;
    }
    EXPECT_EQ(values("small"), "[1277,[[[{},{}],[{},{}]],[[{},{}],[{},{}]]]]");
}

TEST_F(LuaEngineTest, HostCallsAreChargedPerCall) {
    std::vector<std::string> messages;
    {
        test::LogCapture capture("switchboard.lua");
        loadScript(R"(
            function flood() for i = 1, 1000000 do log.info("line", i) end end
            function hammer() for i = 1, 1000000 do store.put("k", i) end end
            function few() for i = 1, 100 do store.put("k" .. i, i) log.info(i) end end
        )");
        EXPECT_EQ(values("flood"), "error: instruction budget exceeded");
        messages = capture.messages();
    }
    EXPECT_LE(messages.size(), 1001u);
    EXPECT_EQ(values("hammer"), "error: instruction budget exceeded");
    EXPECT_LE(std::stoi(kv.values().at("k")), 1000);
    EXPECT_EQ(values("few"), "[]");
}

TEST_F(LuaEngineTest, SandboxHidesUnsafeFunctions) {
    loadScript(R"(
        function probe()
            return type(io), type(os.execute), type(os.getenv), type(os.exit), type(os.remove),
                   type(require), type(dofile), type(loadfile), type(string.dump),
                   type(("").dump), type(debug), type(package)
        end
        function gc()
            local ok, err = pcall(collectgarbage, "stop")
            return ok, err, type(collectgarbage("count"))
        end
        function finalizer()
            return pcall(setmetatable, {}, { __gc = function() end })
        end
    )");
    EXPECT_EQ(values("probe"),
              R"(["nil","nil","nil","nil","nil","nil","nil","nil","nil","nil","nil","nil"])");
    EXPECT_EQ(values("gc"), R"([false,"collectgarbage('stop') is not allowed","number"])");
    EXPECT_EQ(values("finalizer"), R"([false,"setmetatable: __gc metamethods are not allowed"])");
}

TEST_F(LuaEngineTest, LoadAcceptsTextButNotBytecode) {
    loadScript(R"(
        function bytecode()
            local f, err = load("\27Lua\84\0\25\147\13\10\26\10")
            return f, err
        end
        function text() return load("return 1 + 1")() end
        function withEnv() return load("return x", "chunk", "t", { x = 7 })() end
    )");
    LuaResult result = call("bytecode");
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_TRUE(result.values[0].IsNull());
    EXPECT_THAT(result.values[1].GetString(), HasSubstr("attempt to load a binary chunk"));
    EXPECT_EQ(values("text"), "[2]");
    EXPECT_EQ(values("withEnv"), "[7]");
}

TEST_F(LuaEngineTest, BytecodeScriptIsRefused) {
    std::string file = script(std::string("\x1bLua\x54") + std::string(20, '\0'), "bin.lua");
    LuaOptions options;
    options.scripts = {file};
    try {
        engine.load(options);
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()), file + ": precompiled (binary) chunks are not allowed");
    }
}

TEST_F(LuaEngineTest, OsTimeDateClockAndTimeNowWork) {
    loadScript(R"(
        function clocks()
            return type(os.time()), os.date("!%Y-%m-%d", 86400), type(os.clock()),
                   os.time({ year = 2020, month = 1, day = 1, hour = 12 }) > 0, time.now()
        end
    )");
    LuaResult result = call("clocks");
    ASSERT_TRUE(result.ok) << result.error;
    ASSERT_EQ(result.values.Size(), 5u);
    EXPECT_STREQ(result.values[0].GetString(), "number");
    EXPECT_STREQ(result.values[1].GetString(), "1970-01-02");
    EXPECT_STREQ(result.values[2].GetString(), "number");
    EXPECT_TRUE(result.values[3].GetBool());
    EXPECT_NEAR(result.values[4].GetDouble(), static_cast<double>(std::time(nullptr)), 5.0);
}

TEST_F(LuaEngineTest, JsonEncodeDecodeRoundTrip) {
    loadScript(R"(
        function roundtrip()
            local text = json.encode({ a = { 1, 2.5, { b = true } } })
            local back = json.decode(text)
            return text, back.a[2], back.a[3].b, json.encode({}), json.encode('x"y'),
                   json.decode("[1,null,3]")[3], json.decode("null"), json.encode(nil)
        end
        function bad(which)
            if which == "decode" then return json.decode("{oops") end
            if which == "function" then return json.encode({ f = print }) end
            if which == "cycle" then local t = {} t.self = t return json.encode(t) end
            if which == "nan" then return json.encode(0/0) end
        end
        function returnsFunction() return print end
        function echo(v) return v end
    )");
    EXPECT_EQ(values("roundtrip"),
              R"(["{\"a\":[1,2.5,{\"b\":true}]}",2.5,true,"{}","\"x\\\"y\"",3,null,"null"])");
    EXPECT_THAT(values("bad", {R"("decode")"}),
                StartsWith("error: " + path() + ":9: json.decode: "));
    EXPECT_EQ(values("bad", {R"("function")"}),
              "error: " + path() + ":10: cannot convert function to JSON");
    EXPECT_EQ(values("bad", {R"("cycle")"}), "error: " + path() + ":11: value nested too deeply");
    EXPECT_EQ(values("bad", {R"("nan")"}),
              "error: " + path() + ":12: cannot convert non-finite number to JSON");
    EXPECT_EQ(values("returnsFunction"), "error: cannot convert function to JSON");

    std::string deep = std::string(40, '[') + std::string(40, ']');
    EXPECT_EQ(values("echo", {deep}), "error: value nested too deeply");
    std::string fine = std::string(30, '[') + "1" + std::string(30, ']');
    EXPECT_EQ(values("echo", {fine}), "[" + fine + "]");
    // Lua cannot tell an empty array from an empty object; both come back as {}.
    EXPECT_EQ(values("echo", {"[[],{}]"}), "[[{},{}]]");
}

TEST_F(LuaEngineTest, StoreGetPutDelete) {
    loadScript(R"(
        function save(v) store.put("k", v) end
        function fetch() return store.get("k") end
        function drop() store.delete("k") end
        function badValue() store.put("k", { f = print }) end
    )");
    EXPECT_EQ(values("save", {R"({"n":1,"list":[1,"two"]})"}), "[]");
    ASSERT_EQ(kv.values().count("k"), 1u);
    rapidjson::Document stored;
    stored.Parse(kv.values()["k"].c_str());
    rapidjson::Document expected;
    expected.Parse(R"({"n":1,"list":[1,"two"]})");
    EXPECT_TRUE(stored == expected) << kv.values()["k"];

    kv.put("k", R"({"n":2})");
    EXPECT_EQ(values("fetch"), R"([{"n":2}])");
    EXPECT_EQ(values("drop"), "[]");
    EXPECT_TRUE(kv.values().empty());
    EXPECT_EQ(values("fetch"), "[null]");
    EXPECT_EQ(values("save", {"\"text\""}), "[]");
    EXPECT_EQ(kv.values()["k"], "\"text\"");
    EXPECT_EQ(values("save", {"null"}), "[]");
    EXPECT_TRUE(kv.values().empty());
    EXPECT_EQ(values("badValue"), "error: " + path() +
                                      ":5: store.put: cannot convert function "
                                      "to JSON");
}

TEST_F(LuaEngineTest, StoreAndBusMayBeMissing) {
    LuaEngine bare(nullptr, nullptr);
    LuaOptions options;
    options.scripts = {
        script("function save() store.put('k', 1) end\n"
               "function send() bus.publish('lua.b', {}) end\n")};
    bare.load(options);
    LuaResult result = bare.call("save", {});
    EXPECT_EQ(result.error, path() + ":1: store not available");
    result = bare.call("send", {});
    EXPECT_EQ(result.error, path() + ":2: bus not available");
}

TEST_F(LuaEngineTest, BusPublishSendsJsonObjects) {
    loadScript(R"(
        function announce(id) bus.publish("lua.device_flagged", { id = id }) end
        function empty() bus.publish("lua.ping") end
        function notObject() bus.publish("lua.x", { 1, 2 }) end
        function forge(topic) bus.publish(topic, { ssh_pubkey = "victim" }) end
    )");
    EXPECT_EQ(values("announce", {R"("d1")"}), "[]");
    EXPECT_EQ(values("empty"), "[]");
    EXPECT_THAT(values("notObject"),
                EndsWith("bus.publish: the payload must be a table with string keys"));
    // A script cannot forge a plugin's event.
    for (const char* topic : {"\"server.offline\"", "\"user.deleted\"", "\"lua.\"", "\"lua\"",
                              "\"lua.a b\"", "\"\"", "\"luax.y\""}) {
        EXPECT_THAT(values("forge", {topic}),
                    HasSubstr("bus.publish: scripts publish only topics under 'lua.'"))
            << topic;
    }
    EXPECT_THAT(values("forge", {"\"server.offline\""}), EndsWith("(got 'server.offline')"));
    EXPECT_THAT(bus.published(),
                ElementsAre(std::make_pair(std::string("lua.device_flagged"),
                                           std::string(R"({"id":"d1"})")),
                            std::make_pair(std::string("lua.ping"), std::string("{}"))));
}

TEST_F(LuaEngineTest, BusSubscribeFeedsOnEvent) {
    loadScript(R"(
        bus.subscribe("device.*")
        bus.subscribe("device.*")
        function on_event(topic, payload)
            store.put("last", { topic = topic, id = payload.id })
        end
    )");
    EXPECT_THAT(bus.patterns(), ElementsAre("device.*"));
    // Events arrive on a bus thread, which gets its own state.
    std::thread publisher([&] { bus.publish("device.online", R"({"id":"d7"})"); });
    publisher.join();
    bus.publish("server.online", R"({"id":"s1"})");
    rapidjson::Document last;
    last.Parse(kv.values()["last"].c_str());
    rapidjson::Document expected;
    expected.Parse(R"({"topic":"device.online","id":"d7"})");
    EXPECT_TRUE(last == expected) << kv.values()["last"];

    // A reload replaces the subscriptions with the new scripts' ones.
    script("bus.subscribe('server.*')\nfunction on_event(topic) store.put('seen', topic) end\n");
    engine.reload();
    EXPECT_THAT(bus.patterns(), ElementsAre("server.*"));
    bus.publish("device.online", R"({"id":"d8"})");
    bus.publish("server.online", "{}");
    EXPECT_EQ(kv.values()["seen"], "\"server.online\"");
    EXPECT_EQ(kv.values()["last"].find("d8"), std::string::npos);

    script("function on_event() end\n");
    engine.reload();
    EXPECT_TRUE(bus.patterns().empty());
}

TEST_F(LuaEngineTest, BusSubscribeNeedsOnEventAndTopLevelCode) {
    std::string file = script("bus.subscribe('a.*')\n");
    LuaOptions options;
    options.scripts = {file};
    try {
        engine.load(options);
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()),
                  file +
                      ":1: bus.subscribe(\"a.*\") needs a global function on_event(topic, "
                      "payload)");
    }
    EXPECT_TRUE(bus.patterns().empty());
    loadScript("function later() bus.subscribe('a.*') end\n");
    // Plugins' internal topics (relayed signals) are not for scripts, not even by name.
    std::string internal = script(
        "bus.subscribe('internal.signaling.signal')\nfunction on_event() end\n", "internal.lua");
    options.scripts = {internal};
    try {
        engine.load(options);
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()),
                  internal + ":1: bus.subscribe: internal topics are not for scripts");
    }
    EXPECT_EQ(values("later"),
              "error: " + path() + ":1: bus.subscribe must be called by a script's top-level code");
}

TEST_F(LuaEngineTest, HookTriggeringItselfThroughASynchronousBusFailsCleanly) {
    loadScript(R"(
        bus.subscribe("lua.loop")
        function on_event() store.put("reentered", true) end
        function trigger() bus.publish("lua.loop", {}) return "done" end
    )");
    EXPECT_EQ(values("trigger"), R"(["done"])");
    EXPECT_TRUE(kv.values().empty());
    EXPECT_EQ(engine.stats().errors, 1u);
}

TEST_F(LuaEngineTest, TopLevelPublishDeliveredBackDoesNotRecurse) {
    loadScript(R"(
        bus.subscribe("lua.boot")
        bus.publish("lua.boot", {})
        function on_event() end
        function ok() return true end
    )");
    // Building this thread's state publishes "lua.boot", which the synchronous bus hands straight
    // back while the state is still being built: that delivery fails, the call does not.
    EXPECT_EQ(values("ok"), "[true]");
    EXPECT_EQ(engine.stats().errors, 1u);
}

TEST_F(LuaEngineTest, DeepRecursionFailsCleanly) {
    loadScript(R"(
        function recurse(n) return recurse(n + 1) + 1 end
        function viaPcall(n) return select(2, pcall(viaPcall, n + 1)) end
        function ok() return 1 end
    )");
    LuaResult deep = call("recurse", {"0"});
    EXPECT_FALSE(deep.ok);
    EXPECT_EQ(values("ok"), "[1]");
    LuaResult nested = call("viaPcall", {"0"});
    EXPECT_TRUE(nested.ok) << nested.error;  // the innermost pcall reports the C stack overflow
    EXPECT_EQ(values("ok"), "[1]");
}

TEST_F(LuaEngineTest, HasHookListsScriptFunctionsOnly) {
    EXPECT_FALSE(engine.hasHook("on_x"));
    loadScript(R"(
        function on_x() end
        local function helper() end
        setting = 5
        print = function() end
    )");
    EXPECT_TRUE(engine.hasHook("on_x"));
    EXPECT_FALSE(engine.hasHook("helper"));
    EXPECT_FALSE(engine.hasHook("setting"));
    EXPECT_FALSE(engine.hasHook("pcall"));
    EXPECT_FALSE(engine.hasHook("nope"));
}

TEST_F(LuaEngineTest, UndefinedHookFails) {
    EXPECT_EQ(values("anything"), "error: hook not defined");
    loadScript("setting = 5\n");
    EXPECT_EQ(values("missing"), "error: hook not defined");
    EXPECT_EQ(values("setting"), "error: hook not defined");
}

TEST_F(LuaEngineTest, ReloadPicksUpChangedFiles) {
    loadScript("function version() return 1 end\nfunction dropped() end\n");
    EXPECT_EQ(values("version"), "[1]");
    EXPECT_FALSE(engine.hasHook("added"));  // also caches this thread's view of the hooks
    EXPECT_TRUE(engine.hasHook("dropped"));
    EXPECT_EQ(engine.stats().generation, 1u);
    script("function version() return 2 end\nfunction added() end\n");
    engine.reload();
    EXPECT_EQ(values("version"), "[2]");
    EXPECT_TRUE(engine.hasHook("added"));
    EXPECT_FALSE(engine.hasHook("dropped"));
    EXPECT_EQ(engine.stats().generation, 2u);
    engine.shutdown();
    EXPECT_FALSE(engine.hasHook("added"));
}

TEST_F(LuaEngineTest, BrokenReloadThrowsAndKeepsTheOldScripts) {
    loadScript("function version() return 1 end\n");
    EXPECT_EQ(values("version"), "[1]");
    script("function version()\n    return 2 +\nend\n");
    try {
        engine.reload();
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_THAT(e.what(), StartsWith(path() + ":3: unexpected symbol near 'end'"));
    }
    script("function version() return 3 end\nerror('nope')\n");
    try {
        engine.reload();
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()), path() + ":2: nope");
    }
    EXPECT_EQ(values("version"), "[1]");
    EXPECT_EQ(engine.stats().generation, 1u);
}

TEST_F(LuaEngineTest, LoadErrorsNameTheFile) {
    LuaOptions options;
    options.scripts = {dir.file("missing.lua")};
    try {
        engine.load(options);
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()),
                  dir.file("missing.lua") + ": cannot read the script (No such file or directory)");
    }
    try {
        loadScript("local n = 0\nwhile true do n = n + 1 end\n");
        FAIL() << "expected LuaLoadError";
    } catch (const LuaLoadError& e) {
        EXPECT_EQ(std::string(e.what()), path() + ":2: instruction budget exceeded");
    }
    EXPECT_EQ(engine.stats().generation, 0u);
}

TEST_F(LuaEngineTest, TopLevelFailureOnAThreadFailsItsCalls) {
    loadScript("if store.get('fail') then error('not today') end\nfunction f() return 1 end\n");
    kv.put("fail", "true");
    EXPECT_EQ(values("f"),
              "error: Lua scripts failed to load on this thread: " + path() + ":1: not today");
    kv.remove("fail");
    EXPECT_EQ(values("f"), "[1]");
}

TEST_F(LuaEngineTest, ScriptsShareOneEnvironmentInOrder) {
    LuaOptions options;
    options.scripts = {script("base = 40\n", "a.lua"),
                       script("function answer() return base + 2 end\n", "b.lua")};
    engine.load(options);
    EXPECT_EQ(values("answer"), "[42]");
}

TEST_F(LuaEngineTest, LogWritesToTheSwitchboardLuaLogger) {
    std::vector<std::string> messages;
    {
        test::LogCapture capture("switchboard.lua");
        loadScript(
            "function say()\n    log.warn('hello', 42)\n    print('printed')\nend\n"
            "function fail() error('broken') end\n");
        EXPECT_EQ(values("say"), "[]");
        EXPECT_FALSE(call("fail").ok);
        EXPECT_FALSE(call("undefined").ok);
        messages = capture.messages();
    }
    ASSERT_GE(messages.size(), 3u);
    EXPECT_EQ(messages[messages.size() - 3], path() + ":2: hello\t42");
    EXPECT_EQ(messages[messages.size() - 2], path() + ":3: printed");
    // Failures are logged once by the engine; an undefined hook is not.
    EXPECT_EQ(messages.back(), "Lua hook fail failed: " + path() + ":5: broken");
}

TEST_F(LuaEngineTest, FailuresOfAPluginsCallAreLoggedAsThatPlugins) {
    test::LogCapture capture("switchboard.pairing");
    loadScript("function fail() error('broken') end\n");
    EXPECT_FALSE(engine.call("fail", {}, "pairing").ok);
    std::vector<std::string> messages = capture.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages.back(), "Lua hook fail failed: " + path() + ":1: broken");
}

TEST_F(LuaEngineTest, ConcurrentCallsFromEightThreads) {
    loadScript("function add(a, b) return a + b, { sum = a + b, thread = a } end\n");
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                std::string expected = std::to_string(t + i) + R"(,{"sum":)" +
                                       std::to_string(t + i) + R"(,"thread":)" + std::to_string(t) +
                                       "}";
                // Object member order follows Lua's table order, so compare parsed values.
                rapidjson::Document want;
                want.Parse(("[" + expected + "]").c_str());
                LuaResult result = call("add", {std::to_string(t), std::to_string(i)});
                if (!result.ok || !(result.values == want)) {
                    ++wrong;
                }
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    LuaEngine::Stats stats = engine.stats();
    EXPECT_EQ(stats.calls, 16000u);
    EXPECT_EQ(stats.errors, 0u);
    // Each thread handed its state back when it ended.
    EXPECT_EQ(stats.states, 0u);
}

TEST_F(LuaEngineTest, ReloadWhileThreadsCall) {
    loadScript("function version() return 1 end\n");
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            while (!stop) {
                std::string got = values("version");
                if (got != "[1]" && got != "[2]") {
                    ++wrong;
                }
            }
        });
    }
    for (int i = 0; i < 20; ++i) {
        script("function version() return " + std::to_string(1 + i % 2) + " end\n");
        engine.reload();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    stop = true;
    for (std::thread& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(engine.stats().generation, 21u);
}

TEST_F(LuaEngineTest, ShutdownIsIdempotentAndLoadWorksAgain) {
    loadScript("bus.subscribe('a.*')\nfunction on_event() end\nfunction f() return 1 end\n");
    EXPECT_EQ(values("f"), "[1]");
    EXPECT_EQ(engine.stats().states, 1u);
    engine.shutdown();
    engine.shutdown();
    EXPECT_TRUE(bus.patterns().empty());
    EXPECT_FALSE(engine.hasHook("f"));
    EXPECT_EQ(values("f"), "error: hook not defined");
    LuaEngine::Stats stats = engine.stats();
    EXPECT_EQ(stats.generation, 0u);
    EXPECT_EQ(stats.states, 0u);
    engine.reload();
    EXPECT_EQ(values("f"), "[1]");
}

// Many calls on one state: results stay exact and the state is reused (no per-call state).
// Timing belongs in bench/, not here.
TEST_F(LuaEngineTest, ManySmallCallsReuseOneState) {
    loadScript("function small(t) return { ok = true, n = t.n + 1 } end\n");
    rapidjson::Document arg;
    arg.Parse(R"({"n":1,"name":"device-1"})");
    std::vector<const rapidjson::Value*> args{&arg};
    for (int i = 0; i < 20000; ++i) {
        LuaResult result = engine.call("small", args);
        ASSERT_TRUE(result.ok) << result.error;
        // Key order of a Lua table is not defined: compare values, not text.
        ASSERT_EQ(result.values.Size(), 1u);
        ASSERT_TRUE(result.values[0].IsObject());
        ASSERT_EQ(result.values[0].MemberCount(), 2u);
        ASSERT_TRUE(result.values[0]["ok"].IsBool() && result.values[0]["ok"].GetBool());
        ASSERT_EQ(result.values[0]["n"].GetInt(), 2);
    }
    EXPECT_EQ(engine.stats().states, 1u);
}

}  // namespace
}  // namespace switchboard
