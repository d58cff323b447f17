// Hostile HTTP clients against the real binary (reactor contract, issue 8): slow drippers and
// thousands of idle sockets must not delay anyone else, framing is strict, connection caps and
// the process-wide body budget answer 503, and every refusal is a status code, not a drop.
#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <thread>

#include "RawSocket.h"
#include "TestSupport.h"

using namespace switchboard::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Before any server starts: the children inherit the limit (10,000 sockets each side).
const long kFileLimit = raiseFileLimit();

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// One GET on a fresh connection from `source`; the time from connect to the whole response,
/// and its status in `status` (0: none within `timeout`).
double timedGet(int port, const std::string& path, int& status, const std::string& source = "",
                std::chrono::milliseconds timeout = 1000ms) {
    auto started = Clock::now();
    status = 0;
    try {
        RawSocket s = RawSocket::connect(port, source);
        s.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        std::optional<RawResponse> r = readResponse(s, timeout);
        status = r ? r->status : 0;
    } catch (const std::exception&) {
        status = 0;
    }
    return millisSince(started);
}

/// The worst of `count` timed GETs, one every `gap`; `failures` counts non-200 answers.
double worstOf(int count, int port, const std::string& path, int& failures,
               std::chrono::milliseconds gap = 20ms) {
    double worst = 0;
    failures = 0;
    for (int i = 0; i < count; ++i) {
        int status = 0;
        worst = std::max(worst, timedGet(port, path, status));
        failures += status == 200 ? 0 : 1;
        std::this_thread::sleep_for(gap);
    }
    return worst;
}

/// What came back on `s` until the peer closed or `timeout` passed; `closed` tells which.
std::string answerOf(RawSocket& s, std::chrono::milliseconds timeout, bool& closed) {
    std::string bytes = s.readFor(timeout);
    closed = s.closedByPeer();
    return bytes;
}

/// Sends `request` on a fresh connection, optionally shutting down the write side, and returns
/// the responses read until the server closes (or 3 s pass); `closed` tells whether it closed.
std::vector<RawResponse> exchange(int port, const std::string& request, bool& closed,
                                  bool shutdownWrite = false) {
    RawSocket s = RawSocket::connect(port);
    s.send(request);
    if (shutdownWrite) {
        s.shutdownWrite();
    }
    return parseResponses(answerOf(s, 3000ms, closed));
}

std::size_t openFiles(int pid) {
    std::size_t n = 0;
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (d == nullptr) {
        return 0;
    }
    while (::readdir(d) != nullptr) {
        ++n;
    }
    ::closedir(d);
    return n;
}

/// Clients sending `request` one byte per `interval` on their own thread, recording when each
/// got a response and whether the server closed it.
class Drippers {
public:
    struct Client {
        RawSocket socket;
        std::size_t sent = 0;
        std::string received;
        double answeredMs = -1;  ///< since start(), when the first response byte came
        bool closed = false;
    };

    Drippers(const std::vector<int>& ports, int perPort, std::string request)
        : _request(std::move(request)) {
        for (int port : ports) {
            for (int i = 0; i < perPort; ++i) {
                _clients.emplace_back();
                // From 127.0.0.2-5: the legit requests (127.0.0.1) share no per-address cap.
                _clients.back().socket =
                    RawSocket::connect(port, "127.0.0." + std::to_string(2 + i % 4));
            }
        }
    }
    ~Drippers() { stop(); }

    void start(std::chrono::milliseconds interval) {
        _started = Clock::now();
        _thread = std::thread([this, interval] { run(interval); });
    }
    void stop() {
        _stop = true;
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    /// Only after stop().
    const std::vector<Client>& clients() const { return _clients; }
    std::size_t answered() const { return _answered.load(); }
    Clock::time_point started() const { return _started; }

private:
    void run(std::chrono::milliseconds interval) {
        std::vector<pollfd> fds(_clients.size());
        auto nextDrip = Clock::now();
        while (!_stop) {
            if (Clock::now() >= nextDrip) {
                for (Client& c : _clients) {
                    if (!c.closed && c.sent < _request.size() &&
                        c.socket.sendSome(std::string_view(_request).substr(c.sent, 1)) == 1) {
                        ++c.sent;
                    }
                }
                nextDrip += interval;
            }
            for (std::size_t i = 0; i < _clients.size(); ++i) {
                fds[i] = {_clients[i].closed ? -1 : _clients[i].socket.fd(), POLLIN, 0};
            }
            ::poll(fds.data(), fds.size(), 20);
            for (std::size_t i = 0; i < _clients.size(); ++i) {
                if (fds[i].revents != 0) {
                    readFrom(_clients[i]);
                }
            }
        }
    }
    void readFrom(Client& c) {
        char buffer[4096];
        long n = c.socket.readSome(buffer, sizeof buffer, 0ms);
        if (n > 0) {
            if (c.answeredMs < 0) {
                c.answeredMs = millisSince(_started);
                ++_answered;
            }
            c.received.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || n == -2) {
            c.closed = true;
        }
    }

    std::string _request;
    std::vector<Client> _clients;
    std::thread _thread;
    std::atomic<bool> _stop{false};
    std::atomic<std::size_t> _answered{0};
    Clock::time_point _started;
};

const std::string kDripRequest =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: dripper\r\n\r\n";

// --- one server for the framing tests: max_body 1KiB, request_timeout 2s -------------------

class HostileHttpTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        std::string yaml = configYaml(*dir, *ports, "  testkit: { listener: public }\n");
        yaml = withListener(yaml, "public", ports->pub, "max_body: 1KiB, request_timeout: 2s");
        server = new ServerProcess(*dir, yaml);
        ready = server->waitReady(ports->pub);
    }
    // Checked per test: a failure in SetUpTestSuite would only mark the tests skipped.
    void SetUp() override { ASSERT_TRUE(ready) << server->log(); }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }
    /// One response, then the server closes: the answer to a refused request.
    static void expectRefused(const std::string& request, int status) {
        bool closed = false;
        std::vector<RawResponse> got = exchange(ports->pub, request, closed);
        ASSERT_EQ(got.size(), 1u) << "no (or more than one) response to:\n" << request;
        EXPECT_EQ(got[0].status, status);
        EXPECT_EQ(got[0].body.rfind("{\"error\":\"", 0), 0u) << got[0].body;
        EXPECT_TRUE(closed) << "the connection stayed open after " << status;
    }

    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
    static bool ready;
};

TempDir* HostileHttpTest::dir = nullptr;
Ports* HostileHttpTest::ports = nullptr;
ServerProcess* HostileHttpTest::server = nullptr;
bool HostileHttpTest::ready = false;

TEST_F(HostileHttpTest, DripperIsAnswered408AndClosedAtRequestTimeout) {
    RawSocket s = RawSocket::connect(ports->pub);
    auto started = Clock::now();
    std::string received;
    // At most 4 s of dripping (the whole request would take 30 s).
    for (std::size_t i = 0; i < 8 && !s.closedByPeer(); ++i) {
        s.send(kDripRequest.substr(i, 1));
        received += s.readFor(500ms);
        if (!received.empty()) {
            break;
        }
    }
    double answeredAfter = millisSince(started);
    received += s.readFor(1000ms);
    std::vector<RawResponse> got = parseResponses(received);
    ASSERT_EQ(got.size(), 1u) << "got: " << received;
    EXPECT_EQ(got[0].status, 408);
    EXPECT_EQ(got[0].body, "{\"error\":\"request timeout\"}");
    EXPECT_EQ(lower(got[0].header("Connection")), "close");
    EXPECT_TRUE(s.closedByPeer());
    // request_timeout is 2s from the first byte, however often bytes arrive.
    EXPECT_GE(answeredAfter, 1800);
    EXPECT_LE(answeredAfter, 3500);  // deadlines may be checked on a 1 s tick
}

TEST_F(HostileHttpTest, BodyCutShortNeverReachesTheHandler) {
    // /testkit/publish publishes its body on the bus: a handler run would be an event.
    EventStream events(ports->admin, "testkit.*");
    ASSERT_EQ(events.status(), 200);
    std::string head =
        "POST /testkit/publish?topic=testkit.cut HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n";
    bool closed = false;
    // Chunked: one whole chunk, then a chunk announced as 0x20 bytes of which 6 come.
    std::vector<RawResponse> chunked = exchange(
        ports->pub, head + "Transfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n20\r\n{\"b\":1",
        closed, true);
    ASSERT_LE(chunked.size(), 1u);
    if (!chunked.empty()) {
        EXPECT_EQ(chunked[0].status, 400) << chunked[0].body;
    }
    // Content-Length: 100 announced, 7 sent.
    std::vector<RawResponse> counted =
        exchange(ports->pub, head + "Content-Length: 100\r\n\r\n{\"a\":1}", closed, true);
    ASSERT_LE(counted.size(), 1u);
    if (!counted.empty()) {
        EXPECT_EQ(counted[0].status, 400) << counted[0].body;
    }
    // A complete request on the same topic afterwards (both cut requests are over: the server
    // closed them or 3 s passed): its event must be the first of the topic.
    HttpResult marker =
        http("POST", ports->pub, "/testkit/publish?topic=testkit.cut", "{\"marker\":true}");
    ASSERT_EQ(marker.status, 202);
    auto first = events.next("testkit.cut");
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->data, "{\"marker\":true}") << "a cut-short body reached the handler";
}

TEST_F(HostileHttpTest, BadChunkSizeIs400) {
    expectRefused(
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "zz\r\nhello\r\n0\r\n\r\n",
        400);
}

TEST_F(HostileHttpTest, TwoDifferentContentLengthsAre400) {
    expectRefused(
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        "Content-Length: 3\r\n\r\nhello",
        400);
}

TEST_F(HostileHttpTest, NonNumericContentLengthIs400) {
    expectRefused(
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: five\r\n\r\nhello", 400);
}

TEST_F(HostileHttpTest, ContentLengthWithTransferEncodingIs400) {
    expectRefused(
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400);
}

TEST_F(HostileHttpTest, DeclaredBodyOverMaxBodyIs413BeforeTheBodyIsSent) {
    RawSocket s = RawSocket::connect(ports->pub);
    auto started = Clock::now();
    s.send(
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 2000\r\n\r\n");
    std::optional<RawResponse> r = readResponse(s, 1000ms);
    double after = millisSince(started);
    ASSERT_TRUE(r.has_value()) << "no answer within 1 s to a head declaring 2000 > 1024 bytes";
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, "{\"error\":\"request body too large (limit 1024 bytes)\"}");
    EXPECT_LT(after, 1000);
    s.readFor(1000ms);
    EXPECT_TRUE(s.closedByPeer()) << "still open after 413";
}

TEST_F(HostileHttpTest, PipelinedRequestsAreAnsweredInOrder) {
    RawSocket s = RawSocket::connect(ports->pub);
    s.send(
        "GET /testkit/items/1/parts/a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 3\r\n\r\ntwo"
        "GET /testkit/items/3/parts/c HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    bool closed = false;
    std::vector<RawResponse> got = parseResponses(answerOf(s, 3000ms, closed));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].status, 200);
    EXPECT_EQ(got[0].body, "{\"id\":\"1\",\"part\":\"a\"}");
    EXPECT_EQ(got[1].status, 200);
    EXPECT_EQ(got[1].body, "two");
    EXPECT_EQ(got[2].status, 200);
    EXPECT_EQ(got[2].body, "{\"id\":\"3\",\"part\":\"c\"}");
    EXPECT_TRUE(closed) << "Connection: close was not honoured";
}

TEST_F(HostileHttpTest, HeadOver64KiBIs431) {
    // 80 lines of 1000 bytes: few lines, each short enough for any per-line limit.
    std::string head = "GET /testkit/greeting HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int i = 0; i < 80; ++i) {
        head += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'f') + "\r\n";
    }
    expectRefused(head + "\r\n", 431);
}

TEST_F(HostileHttpTest, MoreThan100HeaderLinesIs431) {
    std::string head = "GET /testkit/greeting HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int i = 0; i < 101; ++i) {
        head += "X-Line-" + std::to_string(i) + ": x\r\n";
    }
    expectRefused(head + "\r\n", 431);
}

// --- slow and idle clients: their own servers ------------------------------------------------

/// A request stalled behind hostile or idle connections waits for their timeouts (3 s here);
/// one that is merely slow on a busy 2-core machine comes back in well under a second. The bar
/// sits between the two (as the WebSocket and stream tests' 750 ms), so the test fails for a
/// stall, not for a loaded CI machine (100 ms failed there now and then).
constexpr double kStallBar = 750;

TEST(HostileHttpLoadTest, DrippersOnEveryListenerDelayNobody) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports, "  testkit: { listener: public }\n");
    for (auto [name, port] : {std::pair<const char*, int>{"public", ports.pub},
                              {"pairing", ports.pairing},
                              {"admin", ports.admin}}) {
        yaml = withListener(yaml, name, port, "request_timeout: 3s");
    }
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    ASSERT_TRUE(server.waitReady(ports.admin)) << server.log();

    Drippers drippers({ports.pub, ports.pairing, ports.admin}, 400, kDripRequest);
    drippers.start(500ms);
    std::this_thread::sleep_for(200ms);  // every dripper has sent its first byte
    std::map<std::string, double> worst;
    std::map<std::string, int> failures;
    auto measureUntil = drippers.started() + 2000ms;
    for (int round = 0; round < 20 && Clock::now() < measureUntil; ++round) {
        for (auto [name, port] : {std::pair<const char*, int>{"public", ports.pub},
                                  {"pairing", ports.pairing},
                                  {"admin", ports.admin}}) {
            int status = 0;
            worst[name] = std::max(worst[name], timedGet(port, "/healthz", status));
            failures[name] += status == 200 ? 0 : 1;
        }
        std::this_thread::sleep_for(20ms);
    }
    std::size_t answeredDuring = drippers.answered();
    for (const char* name : {"public", "pairing", "admin"}) {
        EXPECT_EQ(failures[name], 0) << name << ": GET /healthz not answered 200 within 1 s";
        EXPECT_LT(worst[name], kStallBar) << name << ": worst GET /healthz among 400 drippers";
        std::cout << "[ drip ] " << name << " worst " << worst[name] << " ms\n";
    }
    EXPECT_EQ(answeredDuring, 0u) << "drippers were answered before request_timeout";

    // request_timeout (3s from each dripper's first byte) ends every one of them with a 408.
    eventually([&] { return drippers.answered() == 1200; }, 5000ms);
    std::this_thread::sleep_for(300ms);
    drippers.stop();
    std::size_t got408 = 0;
    std::size_t closed = 0;
    double latest = 0;
    double earliest = 1e9;
    for (const auto& c : drippers.clients()) {
        std::vector<RawResponse> r = parseResponses(c.received);
        got408 += (r.size() == 1 && r[0].status == 408) ? 1 : 0;
        closed += c.closed ? 1 : 0;
        if (c.answeredMs >= 0) {
            latest = std::max(latest, c.answeredMs);
            earliest = std::min(earliest, c.answeredMs);
        }
    }
    EXPECT_EQ(got408, 1200u);
    EXPECT_EQ(closed, 1200u);
    EXPECT_GE(earliest, 2800);
    EXPECT_LE(latest, 5000);  // 3 s + a 1 s deadline tick + slack
    EXPECT_TRUE(server.running());
}

TEST(HostileHttpLoadTest, TenThousandIdleConnectionsDelayNobody) {
    ASSERT_GE(kFileLimit, 10500) << "RLIMIT_NOFILE hard limit too low for this test";
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports, "  testkit: { listener: public }\n");
    // Idle sockets must outlive the test; 1,000 per source address stays under the default
    // max_connections_per_address (1024).
    yaml = withListener(yaml, "public", ports.pub, "keepalive_timeout: 60s");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    std::size_t filesBefore = openFiles(server.pid());

    constexpr int kIdle = 10000;
    std::vector<RawSocket> idle;
    idle.reserve(kIdle);
    auto connectStarted = Clock::now();
    for (int i = 0; i < kIdle; ++i) {
        idle.push_back(
            RawSocket::connectAsync(ports.pub, "127.0.0." + std::to_string(2 + i / 1000)));
        if (i % 500 == 499) {
            // Let the batch finish its handshake before the next (the listen backlog is finite).
            eventually([&] { return idle.back().connected() || idle.back().failed(); }, 2000ms);
        }
    }
    bool allConnected = eventually(
        [&] {
            return std::all_of(idle.begin(), idle.end(),
                               [](const RawSocket& s) { return s.connected() || s.failed(); });
        },
        10000ms);
    std::size_t established = static_cast<std::size_t>(
        std::count_if(idle.begin(), idle.end(), [](const RawSocket& s) { return s.connected(); }));
    std::cout << "[ idle ] " << established << " connected in " << millisSince(connectStarted)
              << " ms\n";
    ASSERT_TRUE(allConnected);
    ASSERT_EQ(established, static_cast<std::size_t>(kIdle));
    // The server has accepted them all (not merely the kernel's backlog); the baseline may
    // have counted a transient socket or two (the readiness probe's).
    bool accepted =
        eventually([&] { return openFiles(server.pid()) + 10 >= filesBefore + kIdle; }, 10000ms);
    EXPECT_TRUE(accepted) << "server holds " << openFiles(server.pid()) - filesBefore
                          << " more files than before, not " << kIdle;

    int failures = 0;
    double worst = worstOf(20, ports.pub, "/testkit/greeting", failures);
    std::cout << "[ idle ] worst GET among 10000 idle: " << worst << " ms\n";
    EXPECT_EQ(failures, 0);
    EXPECT_LT(worst, kStallBar);
    std::size_t dropped = static_cast<std::size_t>(
        std::count_if(idle.begin(), idle.end(), [](const RawSocket& s) { return s.peerHungUp(); }));
    EXPECT_EQ(dropped, 0u) << "idle connections closed before keepalive_timeout";
    EXPECT_TRUE(server.running());
}

// --- connection caps ---------------------------------------------------------------------------

class HostileHttpCapsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        std::string yaml = configYaml(*dir, *ports, "  testkit: { listener: public }\n");
        yaml = withListener(yaml, "public", ports->pub, "max_connections: 50");
        yaml = withListener(yaml, "pairing", ports->pairing, "max_connections_per_address: 10");
        server = new ServerProcess(*dir, yaml);
        ready = server->waitReady(ports->pub);
    }
    // Checked per test: a failure in SetUpTestSuite would only mark the tests skipped.
    void SetUp() override { ASSERT_TRUE(ready) << server->log(); }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }
    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
    static bool ready;
};

TempDir* HostileHttpCapsTest::dir = nullptr;
Ports* HostileHttpCapsTest::ports = nullptr;
ServerProcess* HostileHttpCapsTest::server = nullptr;
bool HostileHttpCapsTest::ready = false;

TEST_F(HostileHttpCapsTest, ConnectionOverMaxConnectionsGets503AndIsClosed) {
    // The readiness probe's connection must be gone first, or it is one of the 50.
    std::this_thread::sleep_for(300ms);
    std::vector<RawSocket> held;
    for (int i = 0; i < 50; ++i) {
        held.push_back(RawSocket::connect(ports->pub, "127.0.0." + std::to_string(2 + i % 5)));
    }
    std::this_thread::sleep_for(300ms);  // the server has accepted all 50
    ASSERT_EQ(
        std::count_if(held.begin(), held.end(), [](const RawSocket& h) { return h.peerHungUp(); }),
        0)
        << "one of the first 50 was refused";
    RawSocket over = RawSocket::connect(ports->pub);
    std::optional<RawResponse> r = readResponse(over, 1000ms);
    ASSERT_TRUE(r.has_value()) << "the 51st connection got no answer within 1 s";
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "{\"error\":\"too many connections\"}");
    EXPECT_EQ(lower(r->header("Connection")), "close");
    EXPECT_EQ(r->header("Retry-After"), "1");
    over.readFor(1000ms);
    EXPECT_TRUE(over.closedByPeer());
    // One of the 50 leaves: there is room again.
    held.pop_back();
    EXPECT_TRUE(eventually(
        [&] {
            int status = 0;
            timedGet(ports->pub, "/healthz", status);
            return status == 200;
        },
        2000ms));
}

TEST_F(HostileHttpCapsTest, ConnectionOverPerAddressCapGets503OthersStillServed) {
    std::vector<RawSocket> held;
    for (int i = 0; i < 10; ++i) {
        held.push_back(RawSocket::connect(ports->pairing, "127.0.0.1"));
    }
    std::this_thread::sleep_for(300ms);
    RawSocket over = RawSocket::connect(ports->pairing, "127.0.0.1");
    std::optional<RawResponse> r = readResponse(over, 1000ms);
    ASSERT_TRUE(r.has_value()) << "the 11th connection from 127.0.0.1 got no answer within 1 s";
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "{\"error\":\"too many connections from this address\"}");
    EXPECT_EQ(lower(r->header("Connection")), "close");
    over.readFor(1000ms);
    EXPECT_TRUE(over.closedByPeer());
    int status = 0;
    double ms = timedGet(ports->pairing, "/healthz", status, "127.0.0.2");
    EXPECT_EQ(status, 200) << "another address is refused too";
    EXPECT_LT(ms, 100);
}

// --- the process-wide request body budget -----------------------------------------------------

TEST(HostileHttpBudgetTest, BodyPastMaxBufferedBytesGets503AndTheOtherCompletes) {
    TempDir dir;
    Ports ports;
    std::string yaml = withServerKeys(configYaml(dir, ports, "  testkit: { listener: public }\n"),
                                      "  max_buffered_bytes: 1MiB\n");
    yaml = withListener(yaml, "public", ports.pub, "max_body: 4MiB");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();

    constexpr std::size_t kDeclared = 800000;
    const std::string head =
        "POST /testkit/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/octet-stream\r\nContent-Length: " +
        std::to_string(kDeclared) + "\r\n\r\n";
    const std::string body(kDeclared, 'b');
    // Sends body[from, to) in pieces, stopping as soon as an answer arrives.
    auto feed = [&](RawSocket& s, std::size_t from, std::size_t to) {
        for (std::size_t at = from; at < to; at += 32768) {
            if (!s.send(std::string_view(body).substr(at, std::min<std::size_t>(32768, to - at)),
                        1000ms)) {
                return;
            }
            pollfd p{s.fd(), POLLIN, 0};
            if (::poll(&p, 1, 5) == 1) {
                return;
            }
        }
    };
    RawSocket first = RawSocket::connect(ports.pub);
    ASSERT_TRUE(first.send(head));
    feed(first, 0, kDeclared / 2);
    std::this_thread::sleep_for(200ms);
    RawSocket second = RawSocket::connect(ports.pub);
    ASSERT_TRUE(second.send(head));
    std::this_thread::sleep_for(200ms);
    // Half, then on towards the whole (in case the budget counts bytes held, not declared).
    feed(second, 0, kDeclared);
    std::optional<RawResponse> refused = readResponse(second, 2000ms);
    ASSERT_TRUE(refused.has_value()) << "the request passing the 1MiB budget got no answer";
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(refused->body, "{\"error\":\"server busy: too many request bytes buffered\"}");
    EXPECT_EQ(refused->header("Retry-After"), "1");
    second.readFor(1000ms);
    EXPECT_TRUE(second.closedByPeer());

    // The first request is within the budget: it completes.
    feed(first, kDeclared / 2, kDeclared);
    std::optional<RawResponse> done = readResponse(first, 3000ms);
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->status, 200);
    EXPECT_EQ(done->body.size(), kDeclared);
    first.close();
    second.close();
    HttpResult after = http("POST", ports.pub, "/testkit/echo", std::string(1000, 'x'),
                            {{"Content-Type", "text/plain"}});
    EXPECT_EQ(after.status, 200);
    EXPECT_EQ(after.body.size(), 1000u);
}

}  // namespace

TEST(HostileHttpKeepAliveTest, IdleKeepAliveConnectionIsClosedSilentlyAfterItsTimeout) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports, "  testkit: { listener: public }\n");
    yaml = withListener(yaml, "public", ports.pub, "keepalive_timeout: 1s");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    RawSocket s = RawSocket::connect(ports.pub);
    ASSERT_TRUE(s.send("GET /testkit/greeting HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string first = s.readUntil("\"}", 2000ms);
    std::vector<RawResponse> got = parseResponses(first);
    ASSERT_EQ(got.size(), 1u) << first;
    EXPECT_EQ(got[0].status, 200);
    auto idleFrom = Clock::now();
    // Still open a moment later: a second request is served on the same connection.
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(s.send("GET /testkit/greeting HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(parseResponses(s.readUntil("\"}", 2000ms)).size(), 1u);
    idleFrom = Clock::now();
    // Then idle: closed without a byte once keepalive_timeout (1 s, checked each second) passes.
    std::string after = s.readFor(3500ms);
    EXPECT_TRUE(s.closedByPeer());
    EXPECT_EQ(after, "");
    double closedAfter = millisSince(idleFrom);
    EXPECT_GE(closedAfter, 900);
    EXPECT_LE(closedAfter, 3000);
}
