// WebSocket routes on the real binary: echo through the reactor, open/close handling, size
// limits, and 5,000 concurrent connections held without a thread each.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "TestSupport.h"

using namespace switchboard::test;
using Poco::Net::WebSocket;

namespace {

class WebSocketTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        // A small message limit so the size test is cheap; the hold test sends "ping-<i>".
        std::string yaml = configYaml(*dir, *ports, "  testkit: { listener: public }\n");
        yaml = withListener(yaml, "public", ports->pub,
                            "max_connections_per_address: 10000, websocket: { max_message: 1KiB }");
        server = new ServerProcess(*dir, yaml);
        ASSERT_TRUE(server->waitReady(ports->pub)) << server->log();
    }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }

    static std::unique_ptr<WebSocket> connect(const std::string& path = "/testkit/ws") {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(ports->pub));
        Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
        Poco::Net::HTTPResponse response;
        auto ws = std::make_unique<WebSocket>(session, request, response);
        ws->setReceiveTimeout(Poco::Timespan(10, 0));
        return ws;
    }
    static std::string receive(WebSocket& ws, int& flags) {
        char buffer[4096];
        int n = ws.receiveFrame(buffer, sizeof buffer, flags);
        return std::string(buffer, static_cast<std::size_t>(std::max(n, 0)));
    }

    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
};

TempDir* WebSocketTest::dir = nullptr;
Ports* WebSocketTest::ports = nullptr;
ServerProcess* WebSocketTest::server = nullptr;

TEST_F(WebSocketTest, EchoesMessages) {
    auto ws = connect();
    for (const std::string& text :
         std::vector<std::string>{"hello", "{\"type\":\"json\"}", std::string(1000, 'z')}) {
        ws->sendFrame(text.data(), static_cast<int>(text.size()), WebSocket::FRAME_TEXT);
        int flags = 0;
        EXPECT_EQ(receive(*ws, flags), text);
        EXPECT_EQ(flags & WebSocket::FRAME_OP_BITMASK, WebSocket::FRAME_OP_TEXT);
    }
}

TEST_F(WebSocketTest, HandlerFailureIsLoggedAsThePluginsAndTheConnectionStays) {
    auto ws = connect();
    std::string text = "throw";
    ws->sendFrame(text.data(), static_cast<int>(text.size()), WebSocket::FRAME_TEXT);
    EXPECT_TRUE(server->waitForLog("switchboard.testkit: websocket ")) << server->log();
    EXPECT_TRUE(server->waitForLog("message handler failed: testkit handler refuses"))
        << server->log();
    text = "still here";
    ws->sendFrame(text.data(), static_cast<int>(text.size()), WebSocket::FRAME_TEXT);
    int flags = 0;
    EXPECT_EQ(receive(*ws, flags), text);
}

TEST_F(WebSocketTest, OpenHandlerSeesTheUpgradeRequest) {
    auto ws = connect("/testkit/ws?greet=1");
    int flags = 0;
    EXPECT_EQ(receive(*ws, flags), "hello");
}

TEST_F(WebSocketTest, FragmentedMessageIsReassembled) {
    auto ws = connect();
    ws->sendFrame("abc", 3, WebSocket::FRAME_OP_TEXT);  // no FIN
    ws->sendFrame("def", 3, WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_CONT);
    int flags = 0;
    EXPECT_EQ(receive(*ws, flags), "abcdef");
}

TEST_F(WebSocketTest, PingGetsPong) {
    auto ws = connect();
    ws->sendFrame("p1", 2, WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_PING);
    int flags = 0;
    EXPECT_EQ(receive(*ws, flags), "p1");
    EXPECT_EQ(flags & WebSocket::FRAME_OP_BITMASK, WebSocket::FRAME_OP_PONG);
}

TEST_F(WebSocketTest, ServerSideCloseSendsCloseFrame) {
    auto ws = connect();
    ws->sendFrame("close", 5, WebSocket::FRAME_TEXT);
    int flags = 0;
    std::string payload = receive(*ws, flags);
    EXPECT_EQ(flags & WebSocket::FRAME_OP_BITMASK, WebSocket::FRAME_OP_CLOSE);
    ASSERT_GE(payload.size(), 2u);
    EXPECT_EQ(
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]),
        1000);
    EXPECT_EQ(payload.substr(2), "bye");
}

TEST_F(WebSocketTest, OversizedMessageClosesWith1009) {
    auto ws = connect();
    std::string big(4096, 'x');
    ws->sendFrame(big.data(), static_cast<int>(big.size()), WebSocket::FRAME_TEXT);
    // The server reads what was sent before it closes, so the close frame always arrives.
    int flags = 0;
    std::string payload = receive(*ws, flags);
    ASSERT_EQ(flags & WebSocket::FRAME_OP_BITMASK, WebSocket::FRAME_OP_CLOSE);
    ASSERT_GE(payload.size(), 2u);
    EXPECT_EQ(
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]),
        1009);
    // The connection is finished and the server keeps serving.
    auto fresh = connect();
    fresh->sendFrame("ok", 2, WebSocket::FRAME_TEXT);
    EXPECT_EQ(receive(*fresh, flags), "ok");
}

TEST_F(WebSocketTest, PlainGetOnWebSocketRouteIs400) {
    HttpResult r = http("GET", ports->pub, "/testkit/ws");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, "{\"error\":\"WebSocket upgrade required\"}");
}

TEST_F(WebSocketTest, Holds5000ConnectionsOnFewThreads) {
    int pid = server->pid();
    long threadsBefore = procStatus(pid, "Threads");
    auto load = std::async(std::launch::async, [&] {
        return runCommand(
            {SB_WS_LOAD, "--url", "ws://127.0.0.1:" + std::to_string(ports->pub) + "/testkit/ws",
             "--connections", "5000", "--hold", "4", "--echo", "--server-pid", std::to_string(pid)},
            dir->path(), std::chrono::seconds(120));
    });
    // While the connections are held, the reactor has them all and no thread is pinned.
    long peakThreads = 0;
    bool sawAll = eventually(
        [&] {
            HttpResult m = http("GET", ports->admin, "/metrics", "",
                                {{"Authorization", std::string("Bearer ") + kAdminToken}});
            peakThreads = std::max(peakThreads, procStatus(pid, "Threads"));
            // Every connection is on the loops now, this /metrics request's own included.
            std::size_t at = m.body.find("\nswitchboard_reactor_connections ");
            return at != std::string::npos && std::stol(m.body.substr(at + 33)) >= 5000;
        },
        std::chrono::seconds(60));
    peakThreads = std::max(peakThreads, procStatus(pid, "Threads"));
    RunResult result = load.get();
    EXPECT_TRUE(sawAll) << "the reactor never held 5000 WebSockets";
    EXPECT_EQ(result.exitCode, 0) << result.output;
    EXPECT_NE(result.output.find("\"opened\":5000,\"failed\":0,\"echo_ok\":5000,\"echo_failed\":0"),
              std::string::npos)
        << result.output;
    // HTTP pool (≤ 128 by config, mostly idle) + event loops + fixed host threads: far below
    // one per connection.
    EXPECT_LT(peakThreads, 300) << "threads before: " << threadsBefore;
    std::cout << "[ wsload ] " << result.output;
    std::cout << "[ threads ] before " << threadsBefore << ", peak " << peakThreads << "\n";
    EXPECT_TRUE(server->running());
}

}  // namespace
