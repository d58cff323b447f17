// Lua 5.4 pattern matching with a step count (see LuaPattern.h). A backtracking matcher, as the
// manual's semantics require; what bounds it is the step limit, checked at every step.
#include "lua/LuaPattern.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <type_traits>

namespace switchboard {

static_assert(std::is_trivially_destructible_v<LuaPattern>,
              "a Lua error (longjmp) may unwind past a LuaPattern");

namespace {

int byteAt(const char* p) {
    return static_cast<unsigned char>(*p);
}

/// %a, %d, ... (upper case: the complement); any other character after '%' stands for itself.
bool inClass(int c, int letter) {
    bool in = false;
    switch (std::tolower(letter)) {
        case 'a':
            in = std::isalpha(c) != 0;
            break;
        case 'c':
            in = std::iscntrl(c) != 0;
            break;
        case 'd':
            in = std::isdigit(c) != 0;
            break;
        case 'g':
            in = std::isgraph(c) != 0;
            break;
        case 'l':
            in = std::islower(c) != 0;
            break;
        case 'p':
            in = std::ispunct(c) != 0;
            break;
        case 's':
            in = std::isspace(c) != 0;
            break;
        case 'u':
            in = std::isupper(c) != 0;
            break;
        case 'w':
            in = std::isalnum(c) != 0;
            break;
        case 'x':
            in = std::isxdigit(c) != 0;
            break;
        case 'z':  // deprecated since Lua 5.2 but still accepted
            in = c == 0;
            break;
        default:
            return letter == c;
    }
    return std::isupper(letter) ? !in : in;
}

/// A set "[...]" from `open` (its '[') to `close` (its ']'): items are %x classes, ranges a-z
/// and single characters; a '^' first negates the set.
bool inSet(int c, const char* open, const char* close) {
    const char* p = open + 1;
    bool negated = *p == '^';
    if (negated) {
        ++p;
    }
    for (; p < close; ++p) {
        if (*p == '%') {
            ++p;
            if (inClass(c, byteAt(p))) {
                return !negated;
            }
        } else if (p[1] == '-' && p + 2 < close) {
            if (byteAt(p) <= c && c <= byteAt(p + 2)) {
                return !negated;
            }
            p += 2;
        } else if (byteAt(p) == c) {
            return !negated;
        }
    }
    return negated;
}

}  // namespace

LuaPattern::LuaPattern(const char* subject, std::size_t subjectLength, const char* pattern,
                       std::size_t patternLength)
    : _subject(subject),
      _subjectEnd(subject + subjectLength),
      _pattern(pattern),
      _patternEnd(pattern + patternLength),
      _captures() {}

const char* LuaPattern::matchAt(const char* at, std::uint64_t stepLimit) {
    start(stepLimit);
    try {
        return match(at, _pattern);
    } catch (const Abort&) {
        return nullptr;
    }
}

const char* LuaPattern::findPlain(const char* from, const char* needle, std::size_t needleLength,
                                  std::uint64_t stepLimit) {
    start(stepLimit);
    try {
        if (needleLength == 0) {
            return from;
        }
        if (needleLength > static_cast<std::size_t>(_subjectEnd - from)) {
            return nullptr;
        }
        // Candidates are found with memchr and checked 64 bytes at a time, each chunk a step:
        // a needle that almost matches everywhere costs steps, not unbounded time.
        const char* last = _subjectEnd - needleLength;
        for (const char* p = from; p <= last;) {
            std::size_t span = static_cast<std::size_t>(last - p) + 1;
            const void* hit = std::memchr(p, needle[0], span);
            const char* candidate = static_cast<const char*>(hit);
            step(1 + (candidate != nullptr ? candidate - p : span) / kBytesPerStep);
            if (candidate == nullptr) {
                return nullptr;
            }
            std::size_t k = 1;
            while (k < needleLength) {
                std::size_t chunk = std::min(kBytesPerStep, needleLength - k);
                step();
                if (std::memcmp(candidate + k, needle + k, chunk) != 0) {
                    break;
                }
                k += chunk;
            }
            if (k >= needleLength) {
                return candidate;
            }
            p = candidate + 1;
        }
        return nullptr;
    } catch (const Abort&) {
        return nullptr;
    }
}

void LuaPattern::start(std::uint64_t stepLimit) {
    _steps = 0;
    _limit = stepLimit;
    _depth = 0;
    _level = 0;
    _status = Status::Ok;
}

void LuaPattern::step(std::uint64_t count) {
    _steps += count;
    if (_steps > _limit) {
        _status = Status::OutOfSteps;
        throw Abort{};
    }
}

void LuaPattern::fail(const char* format, int argument) {
    _status = Status::Error;
    _errorFormat = format;
    _errorArgument = argument;
    throw Abort{};
}

/// One nested match: what the depth limit counts (a quantifier or capture recurses).
const char* LuaPattern::match(const char* s, const char* p) {
    if (++_depth > kMaxDepth) {
        fail("pattern too complex");
    }
    step();
    const char* end = matchHere(s, p);
    --_depth;
    return end;
}

const char* LuaPattern::matchHere(const char* s, const char* p) {
    while (p != _patternEnd) {
        bool more = p + 1 < _patternEnd;
        switch (*p) {
            case '(':
                if (more && p[1] == ')') {
                    return openCapture(s, p + 2, kPosition);
                }
                return openCapture(s, p + 1, kUnclosed);
            case ')':
                return closeCapture(s, p + 1);
            case '$':
                if (!more) {
                    return s == _subjectEnd ? s : nullptr;
                }
                break;  // a '$' elsewhere is a plain character
            case '%':
                if (more && p[1] == 'b') {
                    s = balance(s, p + 2);
                    if (s == nullptr) {
                        return nullptr;
                    }
                    p += 4;
                    continue;
                }
                if (more && p[1] == 'f') {
                    p += 2;
                    if (p == _patternEnd || *p != '[') {
                        fail("missing '[' after '%%f' in pattern");
                    }
                    const char* ep = classEnd(p);
                    int previous = s == _subject ? 0 : byteAt(s - 1);
                    int current = s < _subjectEnd ? byteAt(s) : 0;
                    step();
                    if (inSet(previous, p, ep - 1) || !inSet(current, p, ep - 1)) {
                        return nullptr;
                    }
                    p = ep;
                    continue;
                }
                if (more && std::isdigit(byteAt(p + 1))) {
                    s = backReference(s, p[1]);
                    if (s == nullptr) {
                        return nullptr;
                    }
                    p += 2;
                    continue;
                }
                break;
            default:
                break;
        }
        // One character class, perhaps followed by a quantifier.
        const char* ep = classEnd(p);
        char quantifier = ep < _patternEnd ? *ep : '\0';
        if (!single(s, p, ep)) {
            if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
                p = ep + 1;  // zero repetitions are allowed
                continue;
            }
            return nullptr;
        }
        switch (quantifier) {
            case '?': {
                const char* end = match(s + 1, ep + 1);
                if (end != nullptr) {
                    return end;
                }
                p = ep + 1;
                continue;
            }
            case '+':
                return maxExpand(s + 1, p, ep);
            case '*':
                return maxExpand(s, p, ep);
            case '-':
                return minExpand(s, p, ep);
            default:
                ++s;
                p = ep;
                continue;
        }
    }
    return s;
}

/// The end of the character class that starts at `p`.
const char* LuaPattern::classEnd(const char* p) {
    char c = *p++;
    if (c == '%') {
        if (p == _patternEnd) {
            fail("malformed pattern (ends with '%%')");
        }
        return p + 1;
    }
    if (c == '[') {
        if (p < _patternEnd && *p == '^') {
            ++p;
        }
        // The first character of a set is a member even if it is ']'.
        do {
            if (p == _patternEnd) {
                fail("malformed pattern (missing ']')");
            }
            c = *p++;
            if (c == '%' && p < _patternEnd) {
                ++p;
            }
        } while (p == _patternEnd || *p != ']');
        return p + 1;
    }
    return p;
}

bool LuaPattern::single(const char* s, const char* p, const char* ep) {
    step();
    if (s >= _subjectEnd) {
        return false;
    }
    int c = byteAt(s);
    switch (*p) {
        case '.':
            return true;
        case '%':
            return inClass(c, byteAt(p + 1));
        case '[':
            return inSet(c, p, ep - 1);
        default:
            return byteAt(p) == c;
    }
}

/// x* and x+: as many as possible, then fewer until the rest matches.
const char* LuaPattern::maxExpand(const char* s, const char* p, const char* ep) {
    std::ptrdiff_t count = 0;
    while (single(s + count, p, ep)) {
        ++count;
    }
    for (; count >= 0; --count) {
        const char* end = match(s + count, ep + 1);
        if (end != nullptr) {
            return end;
        }
    }
    return nullptr;
}

/// x-: as few as possible, one more each time the rest fails.
const char* LuaPattern::minExpand(const char* s, const char* p, const char* ep) {
    for (;;) {
        const char* end = match(s, ep + 1);
        if (end != nullptr) {
            return end;
        }
        if (!single(s, p, ep)) {
            return nullptr;
        }
        ++s;
    }
}

const char* LuaPattern::openCapture(const char* s, const char* p, std::ptrdiff_t what) {
    if (_level >= kMaxCaptures) {
        fail("too many captures");
    }
    _captures[_level] = {s, what};
    ++_level;
    const char* end = match(s, p);
    if (end == nullptr) {
        --_level;
    }
    return end;
}

const char* LuaPattern::closeCapture(const char* s, const char* p) {
    int open = _level - 1;
    while (open >= 0 && _captures[open].length != kUnclosed) {
        --open;
    }
    if (open < 0) {
        fail("invalid pattern capture");
    }
    _captures[open].length = s - _captures[open].start;
    const char* end = match(s, p);
    if (end == nullptr) {
        _captures[open].length = kUnclosed;
    }
    return end;
}

/// %bxy: from an x to the y that balances it.
const char* LuaPattern::balance(const char* s, const char* p) {
    if (_patternEnd - p < 2) {
        fail("malformed pattern (missing arguments to '%%b')");
    }
    step();
    if (s >= _subjectEnd || *s != p[0]) {
        return nullptr;
    }
    char open = p[0];
    char close = p[1];
    int depth = 1;
    while (++s < _subjectEnd) {
        step();
        if (*s == close) {
            if (--depth == 0) {
                return s + 1;
            }
        } else if (*s == open) {
            ++depth;
        }
    }
    return nullptr;
}

/// %1 ... %9: the text a closed capture matched, again.
const char* LuaPattern::backReference(const char* s, char digit) {
    int index = digit - '1';
    if (index < 0 || index >= _level || _captures[index].length == kUnclosed) {
        fail("invalid capture index %%%d", index + 1);
    }
    std::ptrdiff_t length = _captures[index].length;
    step(1 + static_cast<std::uint64_t>(std::max<std::ptrdiff_t>(length, 0)) / kBytesPerStep);
    // A position capture has no text; like Lua, a reference to one never matches.
    if (length < 0 || _subjectEnd - s < length ||
        std::memcmp(_captures[index].start, s, static_cast<std::size_t>(length)) != 0) {
        return nullptr;
    }
    return s + length;
}

}  // namespace switchboard
