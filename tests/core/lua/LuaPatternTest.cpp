// The sandbox's string.find, match, gmatch, gsub and rep against Lua 5.4's own: the same code
// runs in a sandboxed LuaState and in a plain lua_State, and every result and error must match.
#include "lua/LuaPattern.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "LuaReference.h"

namespace switchboard {
namespace {

using LuaPatternTest = test::LuaReferenceTest;
using test::literal;

TEST_F(LuaPatternTest, ChosenCasesBehaveAsInLua) {
    const std::vector<std::string> cases = {
        // find: plain text, init, specials, captures, anchors
        R"~(return ("hello world"):find("o w"))~",
        R"~(return ("hello world"):find("o", 6))~",
        R"~(return ("hello world"):find("o", -3))~",
        R"~(return ("hello"):find("", 10))~",
        R"~(return ("hello"):find("", 6))~",
        R"~(return ("hello"):find("l", 0))~",
        R"~(return ("hello"):find("l", -100))~",
        R"~(return ("a.b"):find(".", 1, true))~",
        R"~(return ("a)b"):find(")"))~",
        R"~(return ("a+b"):find("+", 1, true))~",
        R"~(return ("aaab"):find("a-b"))~",
        R"~(return ("key = value"):find("(%w+)%s*=%s*(%w+)"))~",
        R"~(return ("hello"):find("^h"), ("hello"):find("^e"), ("hello"):find("o$"))~",
        R"~(return ("a$b"):find("$b"), ("a^b"):find("a^b"))~",
        R"~(return ("abc"):find("()b()"))~",
        R"~(return string.find("abc\0def", "\0d"), string.find("abc\0def", "%z"))~",
        R"~(return string.find("a\0b", "[\0]"), string.find("a\0b", ".\0."))~",
        R"~(return ("THE (quick) fox"):find("%((%a+)%)"))~",
        R"~(return ("x = [[a]] y"):find("%b[]"), ("(a(b)c"):find("%b()"))~",
        R"~(return ("THE (quick) fox"):find("%f[%a]%a+%f[%A]", 5))~",
        R"~(return ("hello"):find("%f[%l]"), ("hello"):find("%f[%z]"), ("hi"):find("%f[^%z]"))~",
        R"~(return ("abab"):find("(ab)%1"), ("abba"):find("(a)(b)%2%1"), ("aa"):find("()%1"))~",
        R"~(return ("x"):find("(x%1)"))~",
        R"~(return ("x"):find("%0"))~",
        R"~(return ("x"):find("(x"))~",
        R"~(return ("x"):find("x)"))~",
        R"~(return ("x"):find("%"))~",
        R"~(return ("x"):find("[a"))~",
        R"~(return ("x"):find("y["))~",
        R"~(return ("x"):find("[]"))~",
        R"~(return ("]"):find("[]]"), ("a"):find("[^]]"), ("-"):find("[a-]"))~",
        R"~(return ("-"):find("[%a-]"), ("b"):find("[a-]"), ("b"):find("[-a]"))~",
        R"~(return ("x"):find("%f"))~",
        R"~(return ("x"):find("%fx"))~",
        R"~(return ("x"):find("%b"))~",
        R"~(return ("x"):find("%bx"))~",
        R"~(return ("x"):find("[%"))~",
        R"~(return (""):find(""), (""):find("x*"), (""):find("$"), (""):find("^$"))~",
        R"~(return ("ab"):find(".-$"), ("ab"):find(".*$", 3), ("ab"):find("b?", 3))~",
        R"~(return ("\200\255a"):find("[\128-\255]+"), ("\200"):find("%A"))~",
        R"~(return ("a1_B"):find("[%w_]+"), ("Aa"):find("%u%l"), ("\t x"):find("%s+"))~",
        R"~(return ("0x1F"):find("%x+", 3), ("a,b"):find("%p"), ("\1"):find("%c"))~",
        R"~(return ("hello"):find("l", 1.0))~",
        R"~(return pcall(string.find, "hello", "l", 1.5))~",
        R"~(return pcall(string.find, "hello"))~",
        R"~(return pcall(string.find, nil, "x"))~",
        R"~(return string.find(12345, 3), string.find(12345, "%d", 2))~",
        // match
        R"~(return ("key=value"):match("(%w+)=(%w+)"))~",
        R"~(return ("  trim  "):match("^%s*(.-)%s*$"))~",
        R"~(return ("abc"):match("b"), ("abc"):match("()"), ("abc"):match("x"))~",
        R"~(return ("abc"):match(".", -1), ("abc"):match("^b", 2), ("abc"):match("c", 10))~",
        R"~(return ("2024-01-02"):match("(%d+)-(%d+)-(%d+)"))~",
        R"~(return ("hello"):match("((l)(l))"))~",
        R"~(return ("abc"):match("a(b?)c"), ("ac"):match("a(b?)c"))~",
        // gmatch
        R"~(local r = {} for w in ("one two  three"):gmatch("%a+") do r[#r+1] = w end
           return table.concat(r, ","))~",
        R"~(local r = {} for k, v in ("a=1, b=2"):gmatch("(%w+)=(%w+)") do r[#r+1] = k .. v end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("abc"):gmatch("") do r[#r+1] = "[" .. w .. "]" end
           return table.concat(r, ","))~",
        R"~(local r = {} for p in ("abc"):gmatch("()") do r[#r+1] = p end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("a^b^"):gmatch("^.") do r[#r+1] = w end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("aaa"):gmatch("a*") do r[#r+1] = "[" .. w .. "]" end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("abcd"):gmatch(".", 3) do r[#r+1] = w end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("abcd"):gmatch(".", -2) do r[#r+1] = w end
           return table.concat(r, ","))~",
        R"~(local r = {} for w in ("abcd"):gmatch(".", 10) do r[#r+1] = w end
           return #r)~",
        R"~(local f = ("ab"):gmatch(".") return f(), f(), f(), f())~",
        R"~(for w in ("x"):gmatch("(") do end)~",
        // gsub
        R"~(return ("hello world"):gsub("o", "0"))~",
        R"~(return ("hello world"):gsub("o", "0", 1))~",
        R"~(return ("hello world"):gsub("o", "0", 0))~",
        R"~(return ("hello world"):gsub("o", "0", -1))~",
        R"~(return ("hello world"):gsub("(%w+)", "<%1>"))~",
        R"~(return ("hello world"):gsub("%w+", "%0 %0"))~",
        R"~(return ("hello"):gsub("", "-"))~",
        R"~(return ("abc"):gsub(".-", "-"))~",
        R"~(return ("abc"):gsub("x*", "-"))~",
        R"~(return ("abc"):gsub("^.", "X"))~",
        R"~(return ("abc"):gsub("^", "X"))~",
        R"~(return ("abc"):gsub("$", "X"))~",
        R"~(return ("abc"):gsub("b", "%%"))~",
        R"~(return ("abc"):gsub("()b", "%1"))~",
        R"~(return ("abc"):gsub("b", 7), ("abc"):gsub("b", 1.5))~",
        R"~(return pcall(string.gsub, "abc", "b", "%"))~",
        R"~(return pcall(string.gsub, "abc", "b", "%x"))~",
        R"~(return pcall(string.gsub, "abc", "b", "%2"))~",
        R"~(return pcall(string.gsub, "abc", "(b)", "%2"))~",
        R"~(return pcall(string.gsub, "abc", "b"))~",
        R"~(return pcall(string.gsub, "abc", "b", true))~",
        R"~(return ("$name is $age"):gsub("%$(%w+)", { name = "ann", age = 7 }))~",
        R"~(return ("$name is $x"):gsub("%$(%w+)", { name = "ann" }))~",
        R"~(return ("$name"):gsub("%$%w+", { ["$name"] = false }))~",
        R"~(return pcall(string.gsub, "$name", "%$(%w+)", { name = {} }))~",
        R"~(return ("hello world"):gsub("%w+", string.upper))~",
        R"~(return ("a b"):gsub("(%w)", function(c) return c == "a" and "A" or nil end))~",
        R"~(return ("a b"):gsub("((%w))", function(x, y) return x .. y end))~",
        R"~(return ("a b"):gsub("%w", function() return 42 end))~",
        R"~(return pcall(string.gsub, "a", "a", function() return {} end))~",
        R"~(return pcall(string.gsub, "a", "a", function() error("inside") end))~",
        R"~(return ("abc"):gsub("%w", "%0%0", 2.0))~",
        R"~(return ("  x  "):gsub("^%s+", ""))~",
        R"~(return ("x"):gsub("(x)(", "y"))~",
        R"~(return ("a.b.c"):gsub("%.", "/"))~",
        R"~(return ("abc"):gsub("[ac]", { a = 1, c = true }))~",
        // depth and capture limits
        R"~(return ("a"):rep(198):find(("a?"):rep(198)))~",
        R"~(return ("a"):rep(199):find(("a?"):rep(199)))~",
        R"~(return ("a"):rep(200):find(("a?"):rep(200)))~",
        R"~(return ("a"):rep(201):find(("a?"):rep(201)))~",
        R"~(return ("a"):rep(32):find(("(a)"):rep(32)))~",
        R"~(return ("a"):rep(33):find(("(a)"):rep(33)))~",
        R"~(return ("a"):rep(40):find(("()"):rep(33)))~",
        // rep
        R"~(return ("ab"):rep(3), ("ab"):rep(3, ","), ("ab"):rep(1, ","), ("ab"):rep(0))~",
        R"~(return ("ab"):rep(-1), (""):rep(5), (""):rep(5, ""), (""):rep(3, "-"))~",
        R"~(return ("x"):rep(2.0), #("abc"):rep(1000, "de"))~",
        R"~(return pcall(string.rep, "x", 2.5))~",
        R"~(return pcall(string.rep, "x", 2^31))~",
        R"~(return pcall(string.rep, "xx", 2^30, ""))~",
        R"~(return pcall(string.rep))~",
    };
    for (const std::string& code : cases) {
        same(code);
    }
}

/// Random short subjects and patterns (malformed ones included), find/match/gmatch/gsub.
TEST_F(LuaPatternTest, RandomCasesBehaveAsInLua) {
    const std::vector<std::string> tokens = {
        "a",    "b",    ".",  "%a", "%d", "%s", "%w", "%%",     "%.", "[ab]", "[^a]", "[a-c]",
        "[%a_", "[%d]", "(",  ")",  "()", "*",  "+",  "-",      "?",  "^",    "$",    "%b()",
        "%f[a", "%1",   "%2", "[",  "]",  "%",  "x",  "%f[%w]", "%B", "1",    "\\0",  "-"};
    const std::string alphabet = "aab()x1 .%-[]^$";
    std::mt19937 random(20240611);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
    int differences = 0;
    for (int i = 0; i < 20000 && differences < 20; ++i) {
        std::string subject;
        for (std::size_t n = pick(9); n > 0; --n) {
            subject += alphabet[pick(alphabet.size())];
        }
        std::string pattern;
        for (std::size_t n = pick(6); n > 0; --n) {
            std::string token = tokens[pick(tokens.size())];
            pattern += token == "\\0" ? std::string(1, '\0') : token;
        }
        std::string s = literal(subject);
        std::string p = literal(pattern);
        std::string init = std::to_string(static_cast<int>(pick(12)) - 4);
        std::string code;
        switch (pick(6)) {
            case 0:
                code = "return string.find(" + s + ", " + p + ", " + init + ")";
                break;
            case 1:
                code = "return string.find(" + s + ", " + p + ", " + init + ", true)";
                break;
            case 2:
                code = "return string.match(" + s + ", " + p + ", " + init + ")";
                break;
            case 3:
                code = "local r = {} for a, b in string.gmatch(" + s + ", " + p + ", " + init +
                       ") do r[#r + 1] = tostring(a) .. '/' .. tostring(b) end " +
                       "return table.concat(r, ',')";
                break;
            case 4:
                code = "return string.gsub(" + s + ", " + p + ", " +
                       literal(std::vector<std::string>{"<%0>", "%1%%", "-", "%2", "%"}[pick(5)]) +
                       ", " + init + ")";
                break;
            default:
                code = "return string.gsub(" + s + ", " + p +
                       ", function(...) return select('#', ...) > 1 and '' or nil end)";
                break;
        }
        if (inSandbox(code) != inReference(code)) {
            ++differences;
            same(code);
        }
    }
    EXPECT_EQ(differences, 0);
}

TEST(LuaPatternUnitTest, StopsAtTheStepLimit) {
    std::string subject(1200, 'a');
    std::string text = ".-.-x";
    LuaPattern pattern(subject.data(), subject.size(), text.data(), text.size());
    EXPECT_EQ(pattern.matchAt(subject.data(), 100000), nullptr);
    EXPECT_EQ(pattern.status(), LuaPattern::Status::OutOfSteps);
    EXPECT_EQ(pattern.steps(), 100001u);
    text = "(a+)";
    LuaPattern ordinary(subject.data(), subject.size(), text.data(), text.size());
    EXPECT_EQ(ordinary.matchAt(subject.data(), 100000), subject.data() + subject.size());
    EXPECT_EQ(ordinary.status(), LuaPattern::Status::Ok);
    EXPECT_LT(ordinary.steps(), 2500u);
    EXPECT_EQ(ordinary.capture(0).length, 1200);
}

}  // namespace
}  // namespace switchboard
