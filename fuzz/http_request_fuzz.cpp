// HTTP/1.1 request framing (net/HttpRequestParser): the bytes of one connection, fed whole and
// fed in pieces, must frame into the same requests and the same error, and every request must
// stay within the input and the limits.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "net/HttpRequestParser.h"

using switchboard::HttpRequestParser;
using switchboard::ParsedRequest;

namespace {

// Small limits, so that the 413 and 431 paths are reached by short inputs.
HttpRequestParser::Limits limits() {
    HttpRequestParser::Limits l;
    l.maxHead = 512;
    l.maxHeaders = 8;
    l.maxBody = 256;
    return l;
}

struct Outcome {
    std::vector<ParsedRequest> requests;
    int errorStatus = 0;
    std::string errorReason;
    /// The same requests and the same fate. The error may differ in one way: a limit of ours
    /// (413, 431) counts bytes as http-parser hands them over, so in pieces it can trip before
    /// http-parser sees a bad byte further on that the whole input shows it at once (400).
    bool operator==(const Outcome& o) const {
        if (requests.size() != o.requests.size() || (errorStatus == 0) != (o.errorStatus == 0)) {
            return false;
        }
        if (errorStatus != o.errorStatus || errorReason != o.errorReason) {
            auto limit = [](int status) { return status == 413 || status == 431; };
            if (!limit(errorStatus) && !limit(o.errorStatus)) {
                return false;
            }
        }
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const ParsedRequest& a = requests[i];
            const ParsedRequest& b = o.requests[i];
            if (a.method != b.method || a.target != b.target || a.headers != b.headers ||
                a.body != b.body || a.keepAlive != b.keepAlive || a.upgrade != b.upgrade) {
                return false;
            }
        }
        return true;
    }
};

/// For the report of a mismatch.
void describe(const char* what, const Outcome& o) {
    std::fprintf(stderr, "%s: %zu requests, error %d \"%s\"\n", what, o.requests.size(),
                 o.errorStatus, o.errorReason.c_str());
    for (const ParsedRequest& r : o.requests) {
        std::fprintf(stderr, "  %s %s, %zu headers, body %zu, keep-alive %d, upgrade %d\n",
                     r.method.c_str(), r.target.c_str(), r.headers.size(), r.body.size(),
                     r.keepAlive, r.upgrade);
        for (const auto& [name, value] : r.headers) {
            std::fprintf(stderr, "    [%s] [%s]\n", name.c_str(), value.c_str());
        }
    }
}

void checkRequest(const HttpRequestParser& parser, const ParsedRequest& r, std::size_t input) {
    const HttpRequestParser::Limits l = limits();
    FUZZ_CHECK(!r.method.empty());
    FUZZ_CHECK(r.body.size() <= input);
    FUZZ_CHECK(r.body.size() <= l.maxBody);
    FUZZ_CHECK(r.headers.size() <= l.maxHeaders);
    FUZZ_CHECK(r.target.size() <= l.maxHead);
    if (parser.declaredLength() > 0) {
        FUZZ_CHECK(r.body.size() == parser.declaredLength());
    }
    std::size_t head = r.target.size();
    for (const auto& [name, value] : r.headers) {
        head += name.size() + value.size();
    }
    FUZZ_CHECK(head <= l.maxHead);
}

// Feeds `data` in pieces whose sizes come from `splits` (0: all of it at once), as
// HttpSession does: after a request, the rest of the piece goes to the next one.
Outcome run(const std::uint8_t* data, std::size_t size, const std::vector<std::size_t>& splits) {
    Outcome out;
    HttpRequestParser parser(limits());
    std::size_t at = 0;
    std::size_t piece = 0;
    while (at < size) {
        std::size_t length = size - at;
        if (!splits.empty()) {
            length = std::min(length, splits[piece++ % splits.size()]);
        }
        const char* chunk = reinterpret_cast<const char*>(data) + at;
        at += length;
        while (length > 0) {
            std::size_t consumed = 0;
            HttpRequestParser::Status status = parser.feed(chunk, length, consumed);
            FUZZ_CHECK(consumed <= length);
            chunk += consumed;
            length -= consumed;
            if (status == HttpRequestParser::Status::Error) {
                out.errorStatus = parser.errorStatus();
                out.errorReason = parser.errorReason();
                FUZZ_CHECK(out.errorStatus == 400 || out.errorStatus == 413 ||
                           out.errorStatus == 431 || out.errorStatus == 501);
                FUZZ_CHECK(!out.errorReason.empty());
                return out;
            }
            if (status == HttpRequestParser::Status::NeedMore) {
                FUZZ_CHECK(length == 0);
                break;
            }
            checkRequest(parser, parser.request(), size);
            out.requests.push_back(parser.request());
            if (out.requests.back().upgrade || !out.requests.back().keepAlive) {
                return out;  // the connection is no longer HTTP, or closes after the answer
            }
            parser.next();
        }
    }
    if (parser.finish() == HttpRequestParser::Status::Error) {
        out.errorStatus = parser.errorStatus();
        out.errorReason = parser.errorReason();
        FUZZ_CHECK(out.errorStatus == 400);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The first byte picks piece sizes 1..8 bytes (a slow client); the rest is the stream.
    if (size < 1) {
        return 0;
    }
    std::vector<std::size_t> splits;
    for (int bit = 0; bit < 8; ++bit) {
        splits.push_back(((data[0] >> bit) & 1) != 0 ? bit + 1 : 1 + (bit * 3) % 7);
    }
    Outcome whole = run(data + 1, size - 1, {});
    Outcome pieces = run(data + 1, size - 1, splits);
    if (!(whole == pieces)) {
        describe("whole", whole);
        describe("pieces", pieces);
    }
    FUZZ_CHECK(whole == pieces);
    return 0;
}
