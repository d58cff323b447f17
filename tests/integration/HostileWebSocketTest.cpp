// Hostile WebSocket peers against the real binary (reactor contract, issue 8): a peer that
// never reads and one that sends half a frame must stall none of 1,000 echoing clients, and
// are closed for overflow (websocket.max_outbound) and io_timeout; the same over wss.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "RawSocket.h"
#include "TestSupport.h"

using namespace switchboard::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Poco::Net::WebSocket;

namespace {

const long kFileLimit = raiseFileLimit();  // before any server starts: children inherit it

struct SslInit {
    SslInit() { Poco::Net::initializeSSL(); }
    ~SslInit() { Poco::Net::uninitializeSSL(); }
};
SslInit sslInit;

const std::string kUpgrade =
    "GET /testkit/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A client frame (FIN set, masked) with `opcode` and `payload`; `declared` > payload size
/// announces more than is sent (a half frame).
std::string clientFrame(const std::string& payload, int opcode = 1, std::size_t declared = 0) {
    std::size_t length = std::max(declared, payload.size());
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    if (length < 126) {
        f += static_cast<char>(0x80 | length);
    } else if (length < 65536) {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(length >> 8);
        f += static_cast<char>(length & 0xff);
    } else {
        f += static_cast<char>(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
            f += static_cast<char>((length >> shift) & 0xff);
        }
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f += static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    return f;
}

/// Takes one complete server frame off the front of `inbox`: its opcode, or -1 if incomplete.
int takeFrame(std::string& inbox, std::string& payload) {
    if (inbox.size() < 2) {
        return -1;
    }
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(inbox[i]); };
    std::size_t length = byte(1) & 0x7f;
    std::size_t at = 2;
    if (length == 126) {
        if (inbox.size() < 4) {
            return -1;
        }
        length = (byte(2) << 8) | byte(3);
        at = 4;
    } else if (length == 127) {
        if (inbox.size() < 10) {
            return -1;
        }
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) {
            length = (length << 8) | byte(i);
        }
        at = 10;
    }
    if (inbox.size() < at + length) {
        return -1;
    }
    int opcode = byte(0) & 0x0f;
    payload = inbox.substr(at, length);
    inbox.erase(0, at + length);
    return opcode;
}

/// A WebSocket on a raw socket, past its 101.
struct RawWebSocket {
    RawSocket socket;
    std::string inbox;
};

RawWebSocket openRawWebSocket(int port, int receiveBuffer = 0) {
    RawWebSocket ws{RawSocket::connect(port, "", receiveBuffer), ""};
    ws.socket.send(kUpgrade);
    std::string head = ws.socket.readUntil("\r\n\r\n", 5000ms);
    std::size_t end = head.find("\r\n\r\n");
    if (head.compare(0, 12, "HTTP/1.1 101") != 0 || end == std::string::npos) {
        throw std::runtime_error("WebSocket upgrade refused: " + head.substr(0, 40));
    }
    ws.inbox = head.substr(end + 4);
    return ws;
}

/// Many echoing clients on raw sockets, driven in rounds by one thread: each round sends one
/// text message on every client and waits for every echo.
class EchoFleet {
public:
    EchoFleet(int port, int count) {
        for (int i = 0; i < count; ++i) {
            _clients.push_back(openRawWebSocket(port));
        }
    }
    /// One round, in waves of 250 clients (each wave sends, then waits for its echoes);
    /// returns the worst round trip (ms); `missing` counts echoes not back within 2 s or wrong.
    double round(int number, int& missing) {
        double worst = 0;
        missing = 0;
        for (std::size_t from = 0; from < _clients.size(); from += 250) {
            int lost = 0;
            worst =
                std::max(worst, wave(number, from, std::min(from + 250, _clients.size()), lost));
            missing += lost;
        }
        return worst;
    }

private:
    double wave(int number, std::size_t from, std::size_t to, int& missing) {
        std::size_t count = to - from;
        std::vector<Clock::time_point> sentAt(count);
        std::vector<int> state(count, 0);  // 0 waiting, 1 echoed, 2 closed
        for (std::size_t k = 0; k < count; ++k) {
            sentAt[k] = Clock::now();
            _clients[from + k].socket.send(clientFrame(text(number, from + k)));
        }
        double worst = 0;
        std::size_t left = count;
        std::vector<pollfd> fds(count);
        auto deadline = Clock::now() + 2000ms;
        char buffer[4096];
        while (left > 0 && Clock::now() < deadline) {
            for (std::size_t k = 0; k < count; ++k) {
                fds[k] = {state[k] != 0 ? -1 : _clients[from + k].socket.fd(), POLLIN, 0};
            }
            ::poll(fds.data(), fds.size(), 50);
            for (std::size_t k = 0; k < count; ++k) {
                if (fds[k].revents == 0) {
                    continue;
                }
                RawWebSocket& c = _clients[from + k];
                long n = c.socket.readSome(buffer, sizeof buffer, 0ms);
                if (n > 0) {
                    c.inbox.append(buffer, static_cast<std::size_t>(n));
                }
                std::string payload;
                if (takeFrame(c.inbox, payload) == 1 && payload == text(number, from + k)) {
                    state[k] = 1;
                    --left;
                    worst = std::max(worst, millisSince(sentAt[k]));
                } else if (n == 0 || n == -2) {
                    state[k] = 2;
                    --left;
                }
            }
        }
        missing =
            static_cast<int>(count) - static_cast<int>(std::count(state.begin(), state.end(), 1));
        return worst;
    }
    static std::string text(int number, std::size_t i) {
        return "round-" + std::to_string(number) + "-client-" + std::to_string(i);
    }
    std::vector<RawWebSocket> _clients;
};

/// Sends text messages of 16 KiB as fast as the server takes them, never reading, for at most
/// `limit`; returns the bytes sent. Stops when the server closes or resets.
std::size_t floodWithoutReading(RawSocket& s, std::chrono::milliseconds limit,
                                std::size_t upTo = 16u << 20) {
    std::string frame = clientFrame(std::string(16384, 'n'));
    std::size_t sent = 0;
    std::size_t offset = 0;
    auto deadline = Clock::now() + limit;
    while (sent < upTo && Clock::now() < deadline && !s.peerHungUp()) {
        long n = s.sendSome(std::string_view(frame).substr(offset));
        if (n < 0) {
            break;
        }
        if (n == 0) {
            pollfd p{s.fd(), POLLOUT, 0};
            ::poll(&p, 1, 20);
            continue;
        }
        sent += static_cast<std::size_t>(n);
        offset = (offset + static_cast<std::size_t>(n)) % frame.size();
    }
    return sent;
}

// --- plain ws: 1,000 echoing clients beside a never-reader and a half frame ------------------

TEST(HostileWebSocketTest, NeverReaderAndHalfFrameStallNoneOfAThousandEchoes) {
    ASSERT_GE(kFileLimit, 2200);
    TempDir dir;
    Ports ports;
    std::string yaml =
        withListener(configYaml(dir, ports, "  testkit: { listener: public }\n"), "public",
                     ports.pub, "websocket: { max_outbound: 64KiB, io_timeout: 1s }");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();

    EchoFleet fleet(ports.pub, 1000);
    double worstBefore = 0;
    int missing = 0;
    int missingBefore = 0;
    for (int r = 0; r < 5; ++r) {
        worstBefore = std::max(worstBefore, fleet.round(r, missing));
        missingBefore += missing;
        std::this_thread::sleep_for(50ms);
    }

    RawWebSocket neverReads = openRawWebSocket(ports.pub, 4096);
    std::atomic<std::size_t> flooded{0};
    std::thread flood([&] { flooded = floodWithoutReading(neverReads.socket, 5000ms); });
    RawWebSocket halfFrame = openRawWebSocket(ports.pub);
    halfFrame.socket.send(clientFrame(std::string(10, 'h'), 1, 100));  // 10 of 100 bytes
    auto halfSent = Clock::now();
    double halfClosedAfter = -1;

    double worstDuring = 0;
    int missingDuring = 0;
    for (int r = 5; millisSince(halfSent) < 3000; ++r) {
        worstDuring = std::max(worstDuring, fleet.round(r, missing));
        missingDuring += missing;
        if (halfClosedAfter < 0 && halfFrame.socket.peerHungUp()) {
            halfClosedAfter = millisSince(halfSent);
        }
        std::this_thread::sleep_for(50ms);
    }
    bool neverReaderClosed = eventually([&] { return neverReads.socket.peerHungUp(); }, 3000ms);
    flood.join();

    std::cout << "[ ws ] worst echo before " << worstBefore << " ms, during " << worstDuring
              << " ms; half frame closed after " << halfClosedAfter << " ms; never-reader sent "
              << flooded << " bytes\n";
    EXPECT_EQ(missingBefore, 0);
    EXPECT_EQ(missingDuring, 0);
    EXPECT_LT(worstBefore, 100);
    EXPECT_LT(worstDuring, 100) << "the hostile peers delayed the others";
    EXPECT_TRUE(neverReaderClosed) << "a peer that never reads is still open";
    EXPECT_GE(halfClosedAfter, 800) << "closed before websocket.io_timeout (1s)";
    EXPECT_LE(halfClosedAfter, 2500) << "the half frame was not closed after io_timeout";
    // testkit logs each close with its CloseReason.
    EXPECT_TRUE(server.waitForLog("websocket closed: timeout", std::chrono::seconds(2)));
    EXPECT_TRUE(server.running());
}

TEST(HostileWebSocketTest, NeverReaderIsClosedForOverflowLongBeforeIoTimeout) {
    // io_timeout 30s: only max_outbound (64KiB) can close it within the test.
    TempDir dir;
    Ports ports;
    std::string yaml =
        withListener(configYaml(dir, ports, "  testkit: { listener: public }\n"), "public",
                     ports.pub, "websocket: { max_outbound: 64KiB, io_timeout: 30s }");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    RawWebSocket neverReads = openRawWebSocket(ports.pub, 4096);
    auto started = Clock::now();
    std::size_t sent = floodWithoutReading(neverReads.socket, 5000ms);
    bool closed = eventually([&] { return neverReads.socket.peerHungUp(); }, 1000ms);
    std::cout << "[ ws ] never-reader sent " << sent << " bytes, closed: " << closed << " after "
              << millisSince(started) << " ms\n";
    EXPECT_TRUE(closed) << "echoes of " << sent << " bytes queued and the peer is still open";
    EXPECT_TRUE(server.waitForLog("websocket closed: overflow", std::chrono::seconds(2)))
        << server.log();
    // Once closed, a new client is served as usual.
    RawWebSocket fresh = openRawWebSocket(ports.pub);
    fresh.socket.send(clientFrame("after"));
    fresh.inbox += fresh.socket.readFor(300ms);
    std::string payload;
    EXPECT_EQ(takeFrame(fresh.inbox, payload), 1);
    EXPECT_EQ(payload, "after");
}

// --- wss: the same on a TLS public listener ---------------------------------------------------

Poco::Net::Context::Ptr trustAll() {
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                  Poco::Net::Context::VERIFY_NONE);
}

TEST(HostileWebSocketTest, OverTlsHalfFrameAndSilentHandshakeStallNobody) {
    TempDir dir;
    Ports ports;
    std::string yaml = withListener(
        configYaml(dir, ports, "  testkit: { listener: public }\n"), "public", ports.pub,
        "request_timeout: 2s, tls: { cert: var/tls/cert.pem, key: var/tls/key.pem }, "
        "websocket: { max_outbound: 64KiB, io_timeout: 1s }");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.admin)) << server.log();

    auto context = trustAll();
    std::vector<std::unique_ptr<Poco::Net::HTTPSClientSession>> sessions;
    std::vector<std::unique_ptr<WebSocket>> clients;
    for (int i = 0; i < 100; ++i) {
        sessions.push_back(std::make_unique<Poco::Net::HTTPSClientSession>(
            "127.0.0.1", static_cast<Poco::UInt16>(ports.pub), context));
        Poco::Net::HTTPRequest request("GET", "/testkit/ws", Poco::Net::HTTPMessage::HTTP_1_1);
        Poco::Net::HTTPResponse response;
        clients.push_back(std::make_unique<WebSocket>(*sessions.back(), request, response));
        clients.back()->setReceiveTimeout(Poco::Timespan(2, 0));
    }
    auto round = [&](int number, int& missing) {
        double worst = 0;
        missing = 0;
        std::vector<Clock::time_point> sentAt(clients.size());
        std::string text = "tls-round-" + std::to_string(number);
        for (std::size_t i = 0; i < clients.size(); ++i) {
            sentAt[i] = Clock::now();
            clients[i]->sendFrame(text.data(), static_cast<int>(text.size()));
        }
        char buffer[256];
        for (std::size_t i = 0; i < clients.size(); ++i) {
            int flags = 0;
            int n = 0;
            try {
                n = clients[i]->receiveFrame(buffer, sizeof buffer, flags);
            } catch (const Poco::Exception&) {
                n = -1;
            }
            if (n < 0 || std::string(buffer, static_cast<std::size_t>(n)) != text) {
                ++missing;
                continue;
            }
            worst = std::max(worst, millisSince(sentAt[i]));
        }
        return worst;
    };
    int missing = 0;
    int missingBefore = 0;
    double worstBefore = 0;
    for (int r = 0; r < 5; ++r) {
        worstBefore = std::max(worstBefore, round(r, missing));
        missingBefore += missing;
    }

    // Never says a word: the TLS handshake cannot finish (request_timeout 2s).
    RawSocket silent = RawSocket::connect(ports.pub);
    auto silentSince = Clock::now();
    double silentClosedAfter = -1;
    // A wss client that sends 10 of a frame's 100 bytes (websocket.io_timeout 1s).
    Poco::Net::SecureStreamSocket half(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(ports.pub)), context);
    half.sendBytes(kUpgrade.data(), static_cast<int>(kUpgrade.size()));
    half.setReceiveTimeout(Poco::Timespan(0, 200000));
    char head[1024];
    int headBytes = half.receiveBytes(head, sizeof head);
    ASSERT_GT(headBytes, 12);
    ASSERT_EQ(std::string(head, 12), "HTTP/1.1 101");
    std::string partial = clientFrame(std::string(10, 'h'), 1, 100);
    half.sendBytes(partial.data(), static_cast<int>(partial.size()));
    auto halfSince = Clock::now();
    double halfClosedAfter = -1;
    auto closedNow = [](int fd) {
        pollfd p{fd, POLLRDHUP, 0};
        return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    };

    double worstDuring = 0;
    int missingDuring = 0;
    for (int r = 5; millisSince(silentSince) < 3500; ++r) {
        worstDuring = std::max(worstDuring, round(r, missing));
        missingDuring += missing;
        if (halfClosedAfter < 0 && closedNow(half.impl()->sockfd())) {
            halfClosedAfter = millisSince(halfSince);
        }
        if (silentClosedAfter < 0 && closedNow(silent.fd())) {
            silentClosedAfter = millisSince(silentSince);
        }
        std::this_thread::sleep_for(50ms);
    }
    std::cout << "[ wss ] worst echo before " << worstBefore << " ms, during " << worstDuring
              << " ms; half frame closed after " << halfClosedAfter
              << " ms; silent handshake closed after " << silentClosedAfter << " ms\n";
    EXPECT_EQ(missingBefore, 0);
    EXPECT_EQ(missingDuring, 0);
    EXPECT_LT(worstBefore, 100);
    EXPECT_LT(worstDuring, 100);
    EXPECT_GE(halfClosedAfter, 800);
    EXPECT_LE(halfClosedAfter, 2500);
    EXPECT_TRUE(server.waitForLog("websocket closed: timeout", std::chrono::seconds(2)));
    EXPECT_GE(silentClosedAfter, 1800) << "closed before request_timeout (2s)";
    EXPECT_LE(silentClosedAfter, 3500) << "a handshake that never finishes is still open";
    EXPECT_TRUE(server.running());
}

}  // namespace
