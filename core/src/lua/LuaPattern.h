// Lua 5.4 pattern matching that counts its work, so a pathological pattern stops at the call's
// instruction budget instead of backtracking for hours inside one library call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace switchboard {

/// One subject and one pattern, matched with the semantics of Lua 5.4's string.find, match,
/// gmatch and gsub (the Lua reference manual, section 6.4.1), written for the sandbox: every
/// step (one character tested, one nested match, 64 bytes compared) counts against a limit
/// given per attempt. Holds pointers into the subject and pattern, which must outlive it. It is
/// trivially destructible, so a Lua error may unwind past it; it never raises one itself.
class LuaPattern {
public:
    static constexpr int kMaxCaptures = 32;  ///< LUA_MAXCAPTURES
    static constexpr int kMaxDepth = 200;    ///< nested matches before "pattern too complex"
    /// Bytes one step may compare or scan with memcmp/memchr.
    static constexpr std::size_t kBytesPerStep = 64;
    /// Capture lengths that are not lengths.
    static constexpr std::ptrdiff_t kUnclosed = -1;
    static constexpr std::ptrdiff_t kPosition = -2;

    enum class Status { Ok, Error, OutOfSteps };
    struct Capture {
        const char* start;
        std::ptrdiff_t length;  ///< or kUnclosed, kPosition
    };

    LuaPattern(const char* subject, std::size_t subjectLength, const char* pattern,
               std::size_t patternLength);

    /// Matches the whole pattern (no '^' handling: callers strip an anchor) starting exactly at
    /// `at`, within `stepLimit` steps. Returns the end of the match, or null if there is none
    /// or status() is not Ok. Captures are those of the successful match.
    const char* matchAt(const char* at, std::uint64_t stepLimit);
    /// Finds `needle` in the subject from `from` on, byte for byte (string.find with plain).
    const char* findPlain(const char* from, const char* needle, std::size_t needleLength,
                          std::uint64_t stepLimit);

    Status status() const { return _status; }
    /// The error as a lua_pushfstring format with one optional %d (errorArgument()).
    const char* errorFormat() const { return _errorFormat; }
    int errorArgument() const { return _errorArgument; }
    /// Steps the last matchAt or findPlain took.
    std::uint64_t steps() const { return _steps; }
    int captureCount() const { return _level; }
    const Capture& capture(int i) const { return _captures[i]; }
    const char* subject() const { return _subject; }
    const char* subjectEnd() const { return _subjectEnd; }

private:
    struct Abort {};

    void start(std::uint64_t stepLimit);
    void step(std::uint64_t count = 1);
    [[noreturn]] void fail(const char* format, int argument = 0);
    const char* match(const char* s, const char* p);
    const char* matchHere(const char* s, const char* p);
    const char* classEnd(const char* p);
    bool single(const char* s, const char* p, const char* ep);
    const char* maxExpand(const char* s, const char* p, const char* ep);
    const char* minExpand(const char* s, const char* p, const char* ep);
    const char* openCapture(const char* s, const char* p, std::ptrdiff_t what);
    const char* closeCapture(const char* s, const char* p);
    const char* balance(const char* s, const char* p);
    const char* backReference(const char* s, char digit);

    const char* _subject;
    const char* _subjectEnd;
    const char* _pattern;
    const char* _patternEnd;
    std::uint64_t _steps = 0;
    std::uint64_t _limit = 0;
    int _depth = 0;
    int _level = 0;
    Status _status = Status::Ok;
    const char* _errorFormat = "";
    int _errorArgument = 0;
    Capture _captures[kMaxCaptures];
};

}  // namespace switchboard
