// The HTTP side of the host against the real binary: routing, params, body cap, contained
// handler failures, keep-alive after errors, health, admin guard and metrics.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class HttpHostTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        server = new ServerProcess(
            *dir, configYaml(*dir, *ports, "  testkit: { listener: public, greeting: hi }\n"));
        ASSERT_TRUE(server->waitReady(ports->pub)) << server->log();
    }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }
    static std::map<std::string, std::string> admin() {
        return {{"Authorization", std::string("Bearer ") + kAdminToken}};
    }
    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
};

TempDir* HttpHostTest::dir = nullptr;
Ports* HttpHostTest::ports = nullptr;
ServerProcess* HttpHostTest::server = nullptr;

TEST_F(HttpHostTest, HealthAndReadiness) {
    HttpResult health = http("GET", ports->pub, "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "{\"status\":\"ok\"}");
    HttpResult ready = http("GET", ports->pub, "/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.body, "{\"status\":\"ready\"}");
    EXPECT_EQ(ready.header("Content-Type"), "application/json");
}

TEST_F(HttpHostTest, EchoesBodyAndPeer) {
    HttpResult r = http("POST", ports->pub, "/testkit/echo", "{\"x\":[1,2,3]}");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"x\":[1,2,3]}");
    EXPECT_EQ(r.header("X-Peer"), "127.0.0.1");
    EXPECT_EQ(r.header("X-Client"), "127.0.0.1");
    // No trusted proxies configured: a client cannot choose its address with a header.
    HttpResult spoofed =
        http("POST", ports->pub, "/testkit/echo", "{}", {{"X-Forwarded-For", "203.0.113.9"}});
    EXPECT_EQ(spoofed.header("X-Client"), "127.0.0.1");
}

TEST_F(HttpHostTest, ThreadsAreNamedForOperators) {
    // top -H, ps -L, perf and gdb show these names (/proc/<pid>/task/<tid>/comm).
    std::set<std::string> names;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(server->pid()) + "/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        names.insert(name);
    }
    for (const char* expected : {"sb-loop-0", "sb-work-0", "sb-public-0", "sb-admin-0",
                                 "sb-store-flush", "sb-store-maint"}) {
        EXPECT_EQ(names.count(expected), 1u)
            << expected << " missing; threads: " << ::testing::PrintToString(names);
    }
}

TEST(TrustedProxyTest, ClientAddressComesFromTrustedProxiesOnly) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  testkit: { listener: public }\n"));
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    // 127.0.0.1 is not trusted yet: the header is ignored.
    auto client = [&](const std::string& source, const std::string& xff) {
        return httpFrom(source, "POST", ports.pub, "/testkit/echo", "{}",
                        {{"X-Forwarded-For", xff}})
            .header("X-Client");
    };
    EXPECT_EQ(client("127.0.0.1", "203.0.113.9"), "127.0.0.1");
    // Trust 127.0.0.1 by reloading with server.trusted_proxies.
    dir.write("switchboard.yaml",
              withServerKeys(configYaml(dir, ports, "  testkit: { listener: public }\n"),
                             "  trusted_proxies: [127.0.0.1, 10.0.0.0/8]\n"));
    ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "",
                   {{"Authorization", std::string("Bearer ") + kAdminToken}})
                  .status,
              200);
    EXPECT_EQ(client("127.0.0.1", "203.0.113.9"), "203.0.113.9");
    // Walked from the right, skipping trusted hops.
    EXPECT_EQ(client("127.0.0.1", "198.51.100.7, 203.0.113.9, 10.1.2.3"), "203.0.113.9");
    // Another (untrusted) peer cannot choose its address.
    EXPECT_EQ(client("127.0.0.2", "203.0.113.9"), "127.0.0.2");
}

TEST_F(HttpHostTest, RouteParamsAndPercentDecoding) {
    HttpResult r = http("GET", ports->pub, "/testkit/items/a%20b/parts/7");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"id\":\"a b\",\"part\":\"7\"}");
}

TEST_F(HttpHostTest, UnknownPathAndWrongMethod) {
    HttpResult notFound = http("GET", ports->pub, "/nothing/here");
    EXPECT_EQ(notFound.status, 404);
    EXPECT_EQ(notFound.body, "{\"error\":\"not found\"}");
    HttpResult wrongMethod = http("DELETE", ports->pub, "/testkit/echo");
    EXPECT_EQ(wrongMethod.status, 405);
    EXPECT_EQ(wrongMethod.body, "{\"error\":\"method not allowed\"}");
}

TEST_F(HttpHostTest, ThrowingHandlerGives500AndServerLives) {
    HttpResult r = http("GET", ports->pub, "/testkit/throw");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, "{\"error\":\"internal error\"}");  // no stack trace, no exception text
    EXPECT_TRUE(server->waitForLog("GET /testkit/throw failed: boom"));
    EXPECT_EQ(http("GET", ports->pub, "/healthz").status, 200);
}

TEST_F(HttpHostTest, PluginWorkRunsOnTheWorkPoolAndIsCounted) {
    HttpResult r = http("GET", ports->pub, "/testkit/work");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.rfind("{\"worker\":", 0), 0u) << r.body;
    // The pool counts a task once it returned, which can be just after its answer went out.
    HttpResult m;
    EXPECT_TRUE(eventually([&] {
        m = http("GET", ports->admin, "/metrics", "",
                 {{"Authorization", std::string("Bearer ") + kAdminToken}});
        return m.body.find("switchboard_work_tasks_total{result=\"completed\"} 0\n") ==
                   std::string::npos &&
               m.body.find("switchboard_work_tasks_total{result=\"completed\"}") !=
                   std::string::npos;
    })) << m.body;
    EXPECT_NE(m.body.find("switchboard_work_queued 0\n"), std::string::npos) << m.body;
}

TEST_F(HttpHostTest, OversizedBodyIs413) {
    std::string big(5 * 1024 * 1024, 'x');
    HttpResult r = http("POST", ports->pub, "/testkit/echo", big);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, "{\"error\":\"request body too large (limit 4194304 bytes)\"}");
    EXPECT_EQ(http("GET", ports->pub, "/healthz").status, 200);
}

TEST_F(HttpHostTest, BodyShorterThanContentLengthIs400) {
    Poco::Net::StreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(ports->pub)));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    std::string request =
        "POST /testkit/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    socket.shutdownSend();  // the announced 90 more bytes never come
    std::string response;
    char buffer[1024];
    int n = 0;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) {
        response.append(buffer, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("{\"error\":\"request body shorter than its Content-Length\"}"),
              std::string::npos)
        << response;
    EXPECT_NE(Poco::toLower(response).find("connection: close"), std::string::npos) << response;
}

TEST_F(HttpHostTest, KeepAliveSurvivesErrorsWithBodies) {
    // POCO 1.11 does not drain unread bodies; the host must, or the next request on the same
    // connection is parsed from the leftover bytes.
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(ports->pub));
    session.setKeepAlive(true);
    for (const char* path : {"/nothing", "/testkit/echo", "/testkit/greeting"}) {
        Poco::Net::HTTPRequest req(path == std::string("/testkit/greeting") ? "GET" : "POST", path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        req.setKeepAlive(true);
        std::string body = path == std::string("/testkit/greeting") ? "" : "0123456789";
        req.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(req) << body;
        Poco::Net::HTTPResponse resp;
        std::string out;
        Poco::StreamCopier::copyToString(session.receiveResponse(resp), out);
        if (path == std::string("/nothing")) {
            EXPECT_EQ(resp.getStatus(), 404);
        } else if (path == std::string("/testkit/echo")) {
            EXPECT_EQ(out, "0123456789");
        } else {
            EXPECT_EQ(out, "{\"greeting\":\"hi\"}");
        }
    }
}

TEST_F(HttpHostTest, AdminNeedsToken) {
    HttpResult none = http("GET", ports->admin, "/admin/api/plugins");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.body, "{\"error\":\"admin token required\"}");
    HttpResult wrong =
        http("GET", ports->admin, "/admin/api/plugins", "", {{"Authorization", "Bearer nope"}});
    EXPECT_EQ(wrong.status, 401);
    // The token itself is no cookie (AdminAccessTest: console sessions).
    HttpResult cookie = http("GET", ports->admin, "/admin/api/plugins", "",
                             {{"Cookie", std::string("switchboard_admin=") + kAdminToken}});
    EXPECT_EQ(cookie.status, 401);
    HttpResult pluginRoute = http("GET", ports->admin, "/admin/api/testkit/state", "", admin());
    EXPECT_EQ(pluginRoute.status, 200);
    EXPECT_EQ(pluginRoute.body, "{\"greeting\":\"hi\"}");
    EXPECT_EQ(http("GET", ports->admin, "/admin/api/testkit/state").status, 401);
    EXPECT_EQ(http("GET", ports->admin, "/metrics").status, 401);
}

TEST_F(HttpHostTest, MetricsCountRoutes) {
    const std::string series =
        "switchboard_http_requests_total{listener=\"public\",method=\"GET\","
        "route=\"/testkit/greeting\",code=\"2xx\"} ";
    auto count = [&] {
        std::string body = http("GET", ports->admin, "/metrics", "", admin()).body;
        std::size_t at = body.find(series);
        return at == std::string::npos ? 0L : std::stol(body.substr(at + series.size()));
    };
    long before = count();  // other tests of this suite may have asked for it already
    http("GET", ports->pub, "/testkit/greeting");
    http("GET", ports->pub, "/testkit/greeting");
    EXPECT_EQ(count(), before + 2);
    HttpResult m = http("GET", ports->admin, "/metrics", "", admin());
    ASSERT_EQ(m.status, 200);
    EXPECT_TRUE(contains(m.header("Content-Type"), "text/plain")) << m.header("Content-Type");
    EXPECT_TRUE(contains(m.body,
                         "switchboard_http_requests_total{listener=\"public\",method=\"GET\","
                         "route=\"/testkit/greeting\",code=\"2xx\"}"))
        << m.body;
    EXPECT_TRUE(contains(m.body,
                         "switchboard_http_request_duration_seconds_bucket{listener="
                         "\"public\",method=\"GET\",route=\"/testkit/greeting\",le=\"+Inf\"}"))
        << m.body;
    EXPECT_TRUE(contains(m.body, "switchboard_plugin_up{plugin=\"testkit\",state=\"running\"} 1"))
        << m.body;
    EXPECT_TRUE(contains(m.body, "switchboard_bus_events_total{kind=\"dropped\"} 0")) << m.body;
}

TEST_F(HttpHostTest, EventStreamRefusesInternalTopics) {
    HttpResult r =
        http("GET", ports->admin, "/admin/api/events?topic=internal.signaling.signal", "", admin());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, "{\"error\":\"topic: internal topics are not streamed\"}");
}

TEST_F(HttpHostTest, EventStreamCarriesBusEvents) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(ports->admin));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req("GET", "/admin/api/events?topic=testkit.*",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Authorization", std::string("Bearer ") + kAdminToken);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    ASSERT_EQ(resp.getStatus(), 200);
    EXPECT_EQ(resp.getContentType(), "text/event-stream");
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, ": connected");
    http("POST", ports->pub, "/testkit/publish?topic=other.topic", "{\"n\":0}");
    http("POST", ports->pub, "/testkit/publish?topic=testkit.hello", "{\"n\":1}");
    std::string event, data;
    while (std::getline(in, line)) {
        if (line.rfind("event: ", 0) == 0) {
            event = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
            data = line.substr(6);
            break;
        }
    }
    EXPECT_EQ(event, "testkit.hello");
    EXPECT_EQ(data, "{\"n\":1}");
}

}  // namespace
