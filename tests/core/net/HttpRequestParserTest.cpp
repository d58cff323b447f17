// The HTTP/1.1 request parser on its own: requests split anywhere, pipelining, chunked bodies,
// and every framing error RFC 9112 asks a server to refuse, with the status each gets.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "net/HttpRequestParser.h"

using namespace switchboard;
using Status = HttpRequestParser::Status;

namespace {

HttpRequestParser::Limits limits(std::size_t maxBody = 1024) {
    HttpRequestParser::Limits l;
    l.maxBody = maxBody;
    l.maxHead = 2048;
    l.maxHeaders = 20;
    return l;
}

/// Feeds `bytes` in one go; returns the status and how much was used.
Status feedAll(HttpRequestParser& parser, const std::string& bytes, std::size_t& used) {
    return parser.feed(bytes.data(), bytes.size(), used);
}

/// The status a whole request (then the end of the stream) ends in, and the error status.
std::pair<Status, int> outcome(const std::string& bytes, std::size_t maxBody = 1024) {
    HttpRequestParser parser(limits(maxBody));
    std::size_t used = 0;
    Status s = feedAll(parser, bytes, used);
    if (s == Status::NeedMore) {
        s = parser.finish();
    }
    return {s, parser.errorStatus()};
}

const std::string kPost =
    "POST /register_server?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";

}  // namespace

TEST(HttpRequestParserTest, ReadsARequestSplitAtEveryByte) {
    for (std::size_t cut = 0; cut <= kPost.size(); ++cut) {
        HttpRequestParser parser(limits());
        std::size_t used = 0;
        Status first = parser.feed(kPost.data(), cut, used);
        ASSERT_EQ(used, cut);
        Status second = first;
        if (first == Status::NeedMore) {
            second = parser.feed(kPost.data() + cut, kPost.size() - cut, used);
        }
        ASSERT_EQ(second, Status::Complete) << "cut at " << cut;
        ParsedRequest& r = parser.request();
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.target, "/register_server?x=1");
        ASSERT_EQ(r.headers.size(), 2u);
        EXPECT_EQ(r.headers[1].first, "Content-Length");
        EXPECT_EQ(r.headers[1].second, "5");
        EXPECT_EQ(r.body, "hello");
        EXPECT_TRUE(r.keepAlive);
    }
}

TEST(HttpRequestParserTest, PipelinedRequestsComeOneAtATime) {
    std::string two = kPost + "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    ASSERT_EQ(feedAll(parser, two, used), Status::Complete);
    EXPECT_EQ(used, kPost.size());
    EXPECT_EQ(parser.request().body, "hello");
    parser.next();
    std::size_t more = 0;
    ASSERT_EQ(parser.feed(two.data() + used, two.size() - used, more), Status::Complete);
    EXPECT_EQ(used + more, two.size());
    EXPECT_EQ(parser.request().method, "GET");
    EXPECT_EQ(parser.request().target, "/healthz");
    EXPECT_FALSE(parser.request().keepAlive);
    parser.next();
    EXPECT_EQ(parser.finish(), Status::NeedMore);  // closed between requests: fine
}

TEST(HttpRequestParserTest, ChunkedBodiesAreJoined) {
    std::string chunked =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n";
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    ASSERT_EQ(feedAll(parser, chunked, used), Status::Complete);
    EXPECT_EQ(parser.request().body, "abcdefg");
}

TEST(HttpRequestParserTest, HttpOneZeroClosesUnlessAskedToKeepAlive) {
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    ASSERT_EQ(feedAll(parser, "GET / HTTP/1.0\r\n\r\n", used), Status::Complete);
    EXPECT_FALSE(parser.request().keepAlive);
    parser.next();
    ASSERT_EQ(feedAll(parser, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", used),
              Status::Complete);
    EXPECT_TRUE(parser.request().keepAlive);
}

TEST(HttpRequestParserTest, UpgradeStopsAtTheEndOfTheHead) {
    std::string upgrade =
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    std::string frame = "\x81\x85";  // the first bytes of a WebSocket frame
    std::string bytes = upgrade + frame;
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    ASSERT_EQ(feedAll(parser, bytes, used), Status::Complete);
    EXPECT_TRUE(parser.request().upgrade);
    EXPECT_EQ(used, upgrade.size());  // the frame is left for the WebSocket codec
}

// Found by fuzz/http_request_fuzz: an upgrade request with a body was complete at its head when
// the body had not all arrived, so the handler got part of it and the rest, however the bytes
// were split, was framed as a request of its own.
TEST(HttpRequestParserTest, AnUpgradeWithABodyEndsAfterTheBodyWhateverTheSplit) {
    std::string request =
        "POST /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Content-Length: 27\r\n\r\n";
    std::string body = "GET /smuggled HTTP/1.1\r\n\r\n!";
    ASSERT_EQ(body.size(), 27u);
    for (std::size_t cut = 1; cut < request.size() + body.size(); ++cut) {
        std::string bytes = request + body;
        HttpRequestParser parser(limits());
        std::size_t used = 0;
        Status status = parser.feed(bytes.data(), cut, used);
        if (status != Status::Complete) {
            ASSERT_EQ(status, Status::NeedMore) << "cut at " << cut;
            ASSERT_EQ(used, cut);
            status = parser.feed(bytes.data() + cut, bytes.size() - cut, used);
        }
        ASSERT_EQ(status, Status::Complete) << "cut at " << cut;
        EXPECT_EQ(parser.request().body, body) << "cut at " << cut;
    }
}

TEST(HttpRequestParserTest, BodiesThatEndEarlyAreRefused) {
    auto truncatedLength = outcome("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_EQ(truncatedLength, std::make_pair(Status::Error, 400));
    auto truncatedChunks =
        outcome("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    EXPECT_EQ(truncatedChunks, std::make_pair(Status::Error, 400));
    auto noLastChunk =
        outcome("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    EXPECT_EQ(noLastChunk, std::make_pair(Status::Error, 400));
    auto headOnly = outcome("POST / HTTP/1.1\r\nHost: a\r\nContent-Le");
    EXPECT_EQ(headOnly, std::make_pair(Status::Error, 400));
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    feedAll(parser, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", used);
    parser.finish();
    EXPECT_EQ(parser.errorReason(), "request body shorter than its Content-Length");
    HttpRequestParser chunked(limits());
    feedAll(chunked, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            used);
    chunked.finish();
    EXPECT_EQ(chunked.errorReason(), "request body ended early");
}

TEST(HttpRequestParserTest, FramingErrorsGetTheirStatus) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
    EXPECT_EQ(outcome(head + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
              std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
              std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Content-Length: abc\r\n\r\n"), std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Content-Length: 1,1\r\n\r\nx"), std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Content-Length: -1\r\n\r\n"), std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n0\r\n\r\n"),
              std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
              std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome(head + "Transfer-Encoding: gzip\r\n\r\n"),
              std::make_pair(Status::Error, 501));
    EXPECT_EQ(outcome("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome("G@T / HTTP/1.1\r\n\r\n"), std::make_pair(Status::Error, 400));
    EXPECT_EQ(outcome("GET / HTTP/9.9x\r\n\r\n"), std::make_pair(Status::Error, 400));
}

TEST(HttpRequestParserTest, ADeclaredBodyOverTheLimitIsRefusedBeforeItArrives) {
    HttpRequestParser parser(limits(100));
    std::size_t used = 0;
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n";
    ASSERT_EQ(feedAll(parser, head, used), Status::Error);
    EXPECT_EQ(parser.errorStatus(), 413);
    EXPECT_EQ(parser.errorReason(), "request body too large (limit 100 bytes)");
    EXPECT_EQ(
        outcome("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'),
                100),
        std::make_pair(Status::Complete, 0));
    EXPECT_EQ(outcome("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
              std::make_pair(Status::Error, 400));
}

TEST(HttpRequestParserTest, AChunkedBodyOverTheLimitIsRefusedAsItGrows) {
    std::string chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) {
        chunked += "a\r\n0123456789\r\n";  // 200 bytes in all
    }
    chunked += "0\r\n\r\n";
    EXPECT_EQ(outcome(chunked, 100), std::make_pair(Status::Error, 413));
    EXPECT_EQ(outcome(chunked, 200), std::make_pair(Status::Complete, 0));
}

TEST(HttpRequestParserTest, HeadsOverTheirLimitsAre431) {
    EXPECT_EQ(outcome("GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n\r\n"),
              std::make_pair(Status::Error, 431));
    EXPECT_EQ(outcome("GET / HTTP/1.1\r\nX: " + std::string(3000, 'v') + "\r\n\r\n"),
              std::make_pair(Status::Error, 431));
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 21; ++i) {
        many += "X" + std::to_string(i) + ": v\r\n";
    }
    EXPECT_EQ(outcome(many + "\r\n"), std::make_pair(Status::Error, 431));
}

TEST(HttpRequestParserTest, AfterAnErrorItStaysFailed) {
    HttpRequestParser parser(limits());
    std::size_t used = 0;
    ASSERT_EQ(feedAll(parser, "BAD\x01 / HTTP/1.1\r\n\r\n", used), Status::Error);
    EXPECT_EQ(feedAll(parser, kPost, used), Status::Error);
    EXPECT_EQ(used, 0u);
    EXPECT_EQ(parser.finish(), Status::Error);
}

TEST(HttpRequestParserTest, RandomAndMutatedInputNeverCrashesOrOverruns) {
    std::mt19937 random(7);
    std::string alphabet =
        "GETPOS /HTP1.0\r\n:-abcChunkedTransfer-EncodingContent-Length0123456789;";
    for (int round = 0; round < 3000; ++round) {
        std::string bytes;
        if (round % 2 == 0) {
            bytes = kPost +
                    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
            for (int flips = 0; flips < 3; ++flips) {
                bytes[random() % bytes.size()] = static_cast<char>(random() % 256);
            }
        } else {
            std::size_t length = random() % 300;
            for (std::size_t i = 0; i < length; ++i) {
                bytes += alphabet[random() % alphabet.size()];
            }
        }
        HttpRequestParser parser(limits(64));
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            std::size_t piece = 1 + random() % 17;
            piece = std::min(piece, bytes.size() - offset);
            std::size_t used = 0;
            Status s = parser.feed(bytes.data() + offset, piece, used);
            ASSERT_LE(used, piece);
            offset += used;
            if (s == Status::Error) {
                EXPECT_TRUE(parser.errorStatus() == 400 || parser.errorStatus() == 413 ||
                            parser.errorStatus() == 431 || parser.errorStatus() == 501);
                break;
            }
            if (s == Status::Complete) {
                EXPECT_LE(parser.request().body.size(), 64u);
                parser.next();
            }
        }
    }
}
