// The metered wrappers behave as Lua's functions do: results, errors and the names in them.
#include "lua/LuaMeteredLibrary.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "LuaReference.h"

namespace switchboard {
namespace {

using LuaMeteredLibraryTest = test::LuaReferenceTest;

TEST_F(LuaMeteredLibraryTest, ChosenCasesBehaveAsInLua) {
    const std::vector<std::string> cases = {
        "return ('hello'):byte(), ('hello'):byte(2, 4), ('hello'):byte(-2, -1)",
        "return ('hello'):byte(10), ('hello'):byte(0), ('hello'):byte(3, 1), ('hello'):byte(1, 99)",
        "return string.byte(123, 2), pcall(string.byte, {}, 1)",
        "return pcall(string.byte, 'x', 'a')",
        "return ('MiXed'):upper(), ('MiXed'):lower(), ('abc'):reverse(), (''):reverse()",
        "return pcall(string.upper), pcall(string.lower, {})",
        "return ('%d-%5.2f-%s-%q'):format(3, 1.5, 'x', 'a\\nb'), string.format('%x', 255)",
        "return pcall(string.format, '%d', 'x')",
        "return pcall(string.format, '%d', 1.5)",
        "return pcall(string.format, '%y', 1)",
        "return pcall(string.format, '%s')",
        "return string.char(72, 105), string.char(), pcall(string.char, 256)",
        "return string.unpack('i4 z', string.pack('i4 z', 7, 'hi'))",
        "return string.unpack('B', 'abc', 2), string.unpack('B', 'abc', -1)",
        "return pcall(string.unpack, 'i4', 'ab')",
        "return pcall(string.unpack, 'B', 'abc', 5)",
        "return string.packsize('i4i8'), pcall(string.packsize, 's')",
        "return pcall(string.pack, 'i1', 300)",
        "return utf8.len('h\\u{E9}llo'), utf8.len('abc', 2), utf8.len('abc', -1), utf8.len('')",
        "return utf8.len('a\\xffb'), pcall(utf8.len, 'abc', 5)",
        "return utf8.codepoint('h\\u{E9}', 1, -1)",
        "return pcall(utf8.codepoint, '\\xff'), pcall(utf8.codepoint, 'abc', 4)",
        "return utf8.offset('a\\u{E9}b', 3), utf8.offset('abc', -1), utf8.offset('abc', 0, 2)",
        "return utf8.offset('abc', 5), pcall(utf8.offset, '\\u{E9}', 1, 2)",
        "return pcall(utf8.offset, 'abc', 1, 5)",
        "local r = {} for p, c in utf8.codes('a\\u{E9}b') do r[#r + 1] = p .. ':' .. c end "
        "return table.concat(r, ' ')",
        "return pcall(function() for p, c in utf8.codes('a\\xffb') do end end)",
        "local f, s, c = utf8.codes('ab') return f(s, 0), f(s, 1), f(s, 2), c",
        "return utf8.char(72, 0xE9, 0x10FFFF), pcall(utf8.char, -1)",
        "return tonumber('42'), tonumber(' 0x1F '), tonumber('1e2'), tonumber('z', 36)",
        "return tonumber('nope'), tonumber(nil), pcall(tonumber)",
        "return pcall(tonumber, '10', 99), pcall(tonumber, 10, 16)",
        "return load('return 1 + 1')(), load('syntax error here')",
        "local parts = {'return ', '4', '2'} local i = 0 "
        "return load(function() i = i + 1 return parts[i] end)()",
        "return pcall(load, function() error('reader broke') end)",
        "return type(collectgarbage('count')), collectgarbage('isrunning'), collectgarbage()",
        "return collectgarbage('step'), collectgarbage('collect')",
    };
    for (const std::string& code : cases) {
        same(code);
    }
}

}  // namespace
}  // namespace switchboard
