// string.find, match, gmatch, gsub and rep with metered work (see LuaStringLibrary.h). Argument
// handling, results and error messages follow Lua 5.4's string library, so scripts see no
// difference but the budget; LuaPatternTest compares the two on many inputs.
#include "lua/LuaStringLibrary.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "lua/LuaPattern.h"
#include "lua/LuaState.h"

namespace switchboard {

namespace {

/// Longest string rep builds, as in Lua (results must fit in an int).
constexpr std::size_t kMaxStringSize = static_cast<std::size_t>(INT_MAX);

/// A 1-based, possibly negative start position as a 1-based index (at least 1).
std::size_t startIndex(lua_Integer position, std::size_t length) {
    if (position > 0) {
        return static_cast<std::size_t>(position);
    }
    if (position == 0 || position < -static_cast<lua_Integer>(length)) {
        return 1;
    }
    return length + static_cast<std::size_t>(position) + 1;
}

/// True if string.find must treat `pattern` as a pattern rather than plain text.
bool hasSpecials(const char* pattern, std::size_t length) {
    static constexpr char kSpecials[] = "^$*+?.([%-";
    return std::any_of(pattern, pattern + length,
                       [](char c) { return c != '\0' && std::strchr(kSpecials, c) != nullptr; });
}

/// Charges what the last match attempt did and raises its error, if any.
void settle(lua_State* lua, LuaState& state, const LuaPattern& pattern) {
    state.charge(lua, pattern.steps());
    if (pattern.status() == LuaPattern::Status::Error) {
        luaL_error(lua, pattern.errorFormat(), pattern.errorArgument());
    }
}

/// What starting a match attempt costs besides its steps (about four instructions' time).
constexpr std::uint64_t kUnitsPerAttempt = 4;

/// One match attempt at `at` within what is left of the budget.
const char* attempt(lua_State* lua, LuaState& state, LuaPattern& pattern, const char* at) {
    state.charge(lua, kUnitsPerAttempt);
    const char* end = pattern.matchAt(at, state.remaining());
    settle(lua, state, pattern);
    return end;
}

/// Capture `i` of the last match (`start`..`end`); capture 0 of a pattern without captures is
/// the whole match.
void pushCapture(lua_State* lua, const LuaPattern& pattern, int i, const char* start,
                 const char* end) {
    if (i >= pattern.captureCount()) {
        if (i != 0) {
            luaL_error(lua, "invalid capture index %%%d", i + 1);
        }
        lua_pushlstring(lua, start, static_cast<std::size_t>(end - start));
        return;
    }
    const LuaPattern::Capture& capture = pattern.capture(i);
    if (capture.length == LuaPattern::kUnclosed) {
        luaL_error(lua, "unfinished capture");
    }
    if (capture.length == LuaPattern::kPosition) {
        lua_pushinteger(lua, capture.start - pattern.subject() + 1);
    } else {
        lua_pushlstring(lua, capture.start, static_cast<std::size_t>(capture.length));
    }
}

/// Every capture (or the whole match if there are none and `start` is given).
int pushCaptures(lua_State* lua, const LuaPattern& pattern, const char* start, const char* end) {
    int count = pattern.captureCount() == 0 && start != nullptr ? 1 : pattern.captureCount();
    luaL_checkstack(lua, count, "too many captures");
    for (int i = 0; i < count; ++i) {
        pushCapture(lua, pattern, i, start, end);
    }
    return count;
}

int findOrMatch(lua_State* lua, bool find) {
    std::size_t subjectLength = 0;
    std::size_t patternLength = 0;
    const char* subject = luaL_checklstring(lua, 1, &subjectLength);
    const char* text = luaL_checklstring(lua, 2, &patternLength);
    std::size_t init = startIndex(luaL_optinteger(lua, 3, 1), subjectLength) - 1;
    if (init > subjectLength) {
        luaL_pushfail(lua);
        return 1;
    }
    LuaState& state = LuaState::of(lua);
    if (find && (lua_toboolean(lua, 4) || !hasSpecials(text, patternLength))) {
        LuaPattern plain(subject, subjectLength, text, patternLength);
        const char* at = plain.findPlain(subject + init, text, patternLength, state.remaining());
        settle(lua, state, plain);
        if (at == nullptr) {
            luaL_pushfail(lua);
            return 1;
        }
        lua_pushinteger(lua, at - subject + 1);
        lua_pushinteger(lua, static_cast<lua_Integer>(at - subject + patternLength));
        return 2;
    }
    bool anchored = patternLength > 0 && text[0] == '^';
    if (anchored) {
        ++text;
        --patternLength;
    }
    LuaPattern pattern(subject, subjectLength, text, patternLength);
    const char* at = subject + init;
    do {
        const char* end = attempt(lua, state, pattern, at);
        if (end != nullptr) {
            if (!find) {
                return pushCaptures(lua, pattern, at, end);
            }
            lua_pushinteger(lua, at - subject + 1);
            lua_pushinteger(lua, end - subject);
            return pushCaptures(lua, pattern, nullptr, nullptr) + 2;
        }
    } while (at++ < pattern.subjectEnd() && !anchored);
    luaL_pushfail(lua);
    return 1;
}

int find(lua_State* lua) {
    return findOrMatch(lua, true);
}

int match(lua_State* lua) {
    return findOrMatch(lua, false);
}

/// Where a gmatch iterator goes on (offsets into its subject).
struct GmatchPosition {
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t next;
    std::size_t lastMatchEnd;
};

/// The gmatch iterator: upvalues subject, pattern, GmatchPosition. Like Lua's, a '^' in the
/// pattern is an ordinary character here.
int gmatchStep(lua_State* lua) {
    std::size_t subjectLength = 0;
    std::size_t patternLength = 0;
    const char* subject = lua_tolstring(lua, lua_upvalueindex(1), &subjectLength);
    const char* text = lua_tolstring(lua, lua_upvalueindex(2), &patternLength);
    auto* position = static_cast<GmatchPosition*>(lua_touserdata(lua, lua_upvalueindex(3)));
    LuaState& state = LuaState::of(lua);
    LuaPattern pattern(subject, subjectLength, text, patternLength);
    for (std::size_t i = position->next; i <= subjectLength; ++i) {
        const char* end = attempt(lua, state, pattern, subject + i);
        // An empty match right where the previous match ended does not count.
        if (end != nullptr && static_cast<std::size_t>(end - subject) != position->lastMatchEnd) {
            position->next = position->lastMatchEnd = static_cast<std::size_t>(end - subject);
            return pushCaptures(lua, pattern, subject + i, end);
        }
    }
    return 0;
}

int gmatch(lua_State* lua) {
    std::size_t subjectLength = 0;
    luaL_checklstring(lua, 1, &subjectLength);
    luaL_checkstring(lua, 2);
    std::size_t init = startIndex(luaL_optinteger(lua, 3, 1), subjectLength) - 1;
    lua_settop(lua, 2);
    auto* position =
        static_cast<GmatchPosition*>(lua_newuserdatauv(lua, sizeof(GmatchPosition), 0));
    position->next = std::min(init, subjectLength + 1);
    position->lastMatchEnd = GmatchPosition::kNone;
    lua_pushcclosure(lua, gmatchStep, 3);
    return 1;
}

/// A replacement string: %0 to %9 are captures, %% is '%'.
void addReplacementText(lua_State* lua, luaL_Buffer* buffer, const LuaPattern& pattern,
                        const char* start, const char* end) {
    std::size_t length = 0;
    const char* text = lua_tolstring(lua, 3, &length);
    const char* escape = nullptr;
    while ((escape = static_cast<const char*>(std::memchr(text, '%', length))) != nullptr) {
        luaL_addlstring(buffer, text, static_cast<std::size_t>(escape - text));
        const char* code = escape + 1;  // may be the terminating '\0' Lua strings have
        if (*code == '%') {
            luaL_addchar(buffer, '%');
        } else if (*code == '0') {
            luaL_addlstring(buffer, start, static_cast<std::size_t>(end - start));
        } else if (std::isdigit(static_cast<unsigned char>(*code))) {
            pushCapture(lua, pattern, *code - '1', start, end);
            luaL_addvalue(buffer);  // a position capture is added as its number
        } else {
            luaL_error(lua, "invalid use of '%c' in replacement string", '%');
        }
        length -= static_cast<std::size_t>(code + 1 - text);
        text = code + 1;
    }
    luaL_addlstring(buffer, text, length);
}

/// Adds the replacement of one match; false if the match was kept as it is.
bool addReplacement(lua_State* lua, luaL_Buffer* buffer, const LuaPattern& pattern,
                    const char* start, const char* end, int replacementType) {
    if (replacementType == LUA_TFUNCTION) {
        lua_pushvalue(lua, 3);
        int count = pushCaptures(lua, pattern, start, end);
        lua_call(lua, count, 1);
    } else if (replacementType == LUA_TTABLE) {
        pushCapture(lua, pattern, 0, start, end);
        lua_gettable(lua, 3);
    } else {
        addReplacementText(lua, buffer, pattern, start, end);
        return true;
    }
    if (!lua_toboolean(lua, -1)) {
        lua_pop(lua, 1);
        luaL_addlstring(buffer, start, static_cast<std::size_t>(end - start));
        return false;
    }
    if (!lua_isstring(lua, -1)) {
        luaL_error(lua, "invalid replacement value (a %s)", luaL_typename(lua, -1));
    }
    luaL_addvalue(buffer);
    return true;
}

int gsub(lua_State* lua) {
    std::size_t subjectLength = 0;
    std::size_t patternLength = 0;
    const char* subject = luaL_checklstring(lua, 1, &subjectLength);
    const char* text = luaL_checklstring(lua, 2, &patternLength);
    int replacementType = lua_type(lua, 3);
    lua_Integer maxReplacements =
        luaL_optinteger(lua, 4, static_cast<lua_Integer>(subjectLength) + 1);
    luaL_argexpected(lua,
                     replacementType == LUA_TNUMBER || replacementType == LUA_TSTRING ||
                         replacementType == LUA_TFUNCTION || replacementType == LUA_TTABLE,
                     3, "string/function/table");
    bool anchored = patternLength > 0 && text[0] == '^';
    if (anchored) {
        ++text;
        --patternLength;
    }
    LuaState& state = LuaState::of(lua);
    LuaPattern pattern(subject, subjectLength, text, patternLength);
    luaL_Buffer buffer;
    luaL_buffinit(lua, &buffer);
    const char* at = subject;
    const char* lastMatchEnd = nullptr;
    lua_Integer count = 0;
    bool changed = false;
    while (count < maxReplacements) {
        const char* end = attempt(lua, state, pattern, at);
        if (end != nullptr && end != lastMatchEnd) {
            ++count;
            changed = addReplacement(lua, &buffer, pattern, at, end, replacementType) || changed;
            at = lastMatchEnd = end;
        } else if (at < pattern.subjectEnd()) {
            luaL_addchar(&buffer, *at++);
        } else {
            break;
        }
        if (anchored) {
            break;
        }
    }
    if (!changed) {
        lua_pushvalue(lua, 1);
    } else {
        luaL_addlstring(&buffer, at, static_cast<std::size_t>(pattern.subjectEnd() - at));
        luaL_pushresult(&buffer);
    }
    lua_pushinteger(lua, count);
    return 2;
}

/// string.rep(s, n [, sep]) built by doubling: a few memcpy calls whatever n is, and nothing to
/// loop over when the result is empty (Lua's loops n times even then).
int rep(lua_State* lua) {
    std::size_t length = 0;
    std::size_t separatorLength = 0;
    const char* text = luaL_checklstring(lua, 1, &length);
    lua_Integer count = luaL_checkinteger(lua, 2);
    const char* separator = luaL_optlstring(lua, 3, "", &separatorLength);
    std::size_t unit = length + separatorLength;
    if (count <= 0 || unit == 0) {
        lua_pushliteral(lua, "");
        return 1;
    }
    if (unit < length || unit > kMaxStringSize / static_cast<std::size_t>(count)) {
        return luaL_error(lua, "resulting string too large");
    }
    std::size_t body = static_cast<std::size_t>(count - 1) * unit;  // copies followed by sep
    std::size_t total = body + length;
    luaL_Buffer buffer;
    char* out = luaL_buffinitsize(lua, &buffer, total);
    if (body > 0) {
        std::memcpy(out, text, length);
        std::memcpy(out + length, separator, separatorLength);
        for (std::size_t filled = unit; filled < body;) {
            std::size_t chunk = std::min(filled, body - filled);
            std::memcpy(out + filled, out, chunk);
            filled += chunk;
        }
    }
    std::memcpy(out + body, text, length);
    luaL_pushresultsize(&buffer, total);
    return 1;
}

}  // namespace

void LuaStringLibrary::install(lua_State* lua) {
    static const luaL_Reg functions[] = {{"find", find}, {"match", match}, {"gmatch", gmatch},
                                         {"gsub", gsub}, {"rep", rep},     {nullptr, nullptr}};
    lua_getglobal(lua, LUA_STRLIBNAME);
    luaL_setfuncs(lua, functions, 0);
    lua_pop(lua, 1);
}

}  // namespace switchboard
