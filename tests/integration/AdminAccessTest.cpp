// The admin listener's guard against the real binary: Host names (DNS rebinding), throttled
// token attempts per client address, console sessions whose cookie is not the token, and the
// Origin check of changes made with that cookie.
#include <gtest/gtest.h>

#include <regex>

#include "RawSocket.h"
#include "TestSupport.h"

using namespace switchboard::test;

namespace {

std::map<std::string, std::string> bearer(const std::string& token = kAdminToken) {
    return {{"Authorization", "Bearer " + token}};
}

std::string errorJson(const std::string& message) {
    return "{\"error\":\"" + message + "\"}";
}

class AdminAccessTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string yaml = configYaml(dir, ports, "  testkit: { listener: public }\n");
        // A small limit, and two extra names: one on any port, one on port 1234 only.
        yaml.replace(yaml.find("admin: { token: "), 16,
                     "admin: { allowed_hosts: [Admin.Example.com, other.example:1234], "
                     "rate_limit: { per_address: 3, window: 60s }, token: ");
        server = std::make_unique<ServerProcess>(dir, yaml);
        ASSERT_TRUE(server->waitReady(ports.admin)) << server->log();
    }
    HttpResult withHost(const std::string& host, const std::string& path = "/admin/api/plugins") {
        auto headers = bearer();
        headers["Host"] = host;
        return http("GET", ports.admin, path, "", headers);
    }
    /// POST /admin/api/session with `token`; the cookie value, or "" (status in `status`).
    std::string login(const std::string& token, int& status, const std::string& from = "") {
        HttpResult r = httpFrom(from, "POST", ports.admin, "/admin/api/session",
                                "{\"token\":\"" + token + "\"}");
        status = r.status;
        lastSetCookie = r.header("Set-Cookie");
        std::smatch m;
        static const std::regex cookie("^switchboard_admin=([0-9a-f]{64}); .*");
        return std::regex_match(lastSetCookie, m, cookie) ? m[1].str() : "";
    }
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(ports.admin); }

    TempDir dir;
    Ports ports;
    std::unique_ptr<ServerProcess> server;
    std::string lastSetCookie;
};

TEST_F(AdminAccessTest, OnlyTheListenersNamesAreAnswered) {
    std::string port = std::to_string(ports.admin);
    for (const std::string& host :
         {"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port,
          std::string("localhost"), "admin.example.com:" + port, std::string("admin.example.com"),
          std::string("other.example:1234")}) {
        EXPECT_EQ(withHost(host).status, 200) << host;
    }
    for (const std::string& host :
         {std::string("attacker.example:") + port, std::string("attacker.example"),
          std::string("localhost:1"), "other.example:" + port, std::string("other.example"),
          std::string("127.0.0.2:") + port, std::string("localhost:" + port + "x"),
          std::string("[::1")}) {
        HttpResult r = withHost(host);
        EXPECT_EQ(r.status, 421) << host;
        EXPECT_EQ(r.body, errorJson("unknown Host for the admin listener; add the name to "
                                    "admin.allowed_hosts"))
            << host;
    }
    // Before the token is even looked at, for every admin route.
    HttpResult metrics = withHost("attacker.example", "/metrics");
    EXPECT_EQ(metrics.status, 421);
    // HTTP/1.1 without Host at all.
    RawSocket socket = RawSocket::connect(ports.admin);
    ASSERT_TRUE(socket.send("GET /admin/api/plugins HTTP/1.1\r\nAuthorization: Bearer " +
                            std::string(kAdminToken) + "\r\n\r\n"));
    auto raw = readResponse(socket, std::chrono::seconds(5));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->status, 400);
    EXPECT_EQ(raw->body, errorJson("Host header required"));
    // Probes stay open to any name: they reveal nothing.
    auto probe = withHost("attacker.example", "/healthz");
    EXPECT_EQ(probe.status, 200);
}

TEST_F(AdminAccessTest, FailedTokensAreLimitedPerAddressBeforeTheComparison) {
    for (int i = 0; i < 3; ++i) {
        HttpResult wrong = httpFrom("127.0.0.2", "GET", ports.admin, "/admin/api/plugins", "",
                                    bearer("wrong-" + std::to_string(i)));
        EXPECT_EQ(wrong.status, 401) << i;
    }
    HttpResult limited =
        httpFrom("127.0.0.2", "GET", ports.admin, "/admin/api/plugins", "", bearer("wrong"));
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, errorJson("too many failed admin token attempts; retry later"));
    int retry = std::atoi(limited.header("Retry-After").c_str());
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 60);
    // While limited, the right token is refused too (or guessing would go on), and the console
    // login counts the same attempts.
    EXPECT_EQ(httpFrom("127.0.0.2", "GET", ports.admin, "/admin/api/plugins", "", bearer()).status,
              429);
    int status = 0;
    EXPECT_EQ(login(kAdminToken, status, "127.0.0.2"), "");
    EXPECT_EQ(status, 429);
    // Another address is not locked out: no global switch.
    EXPECT_EQ(httpFrom("127.0.0.3", "GET", ports.admin, "/admin/api/plugins", "", bearer()).status,
              200);
    // Right tokens do not count: many of them, then still three wrong ones before the limit.
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(
            httpFrom("127.0.0.4", "GET", ports.admin, "/admin/api/plugins", "", bearer()).status,
            200);
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(login("wrong", status, "127.0.0.4"), "");
        EXPECT_EQ(status, 401) << i;
    }
    EXPECT_EQ(httpFrom("127.0.0.4", "GET", ports.admin, "/admin/api/plugins", "", bearer()).status,
              429);
    // A request with no credential at all is not an attempt.
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(httpFrom("127.0.0.5", "GET", ports.admin, "/admin/api/plugins").status, 401);
    }
    EXPECT_EQ(httpFrom("127.0.0.5", "GET", ports.admin, "/admin/api/plugins", "", bearer()).status,
              200);
}

TEST_F(AdminAccessTest, TheConsoleCookieIsASessionNotTheToken) {
    int status = 0;
    // Wrong credentials come from addresses of their own: 127.0.0.1 must not reach the limit.
    EXPECT_EQ(login("not-the-token", status, "127.0.0.6"), "");
    EXPECT_EQ(status, 401);
    EXPECT_EQ(lastSetCookie, "");
    std::string session = login(kAdminToken, status);
    EXPECT_EQ(status, 200);
    ASSERT_EQ(session.size(), 64u) << lastSetCookie;
    EXPECT_EQ(lastSetCookie, "switchboard_admin=" + session +
                                 "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
    EXPECT_EQ(lastSetCookie.find(kAdminToken), std::string::npos);
    EXPECT_NE(login(kAdminToken, status), session) << "every login is a new session";

    auto cookie = [&](const std::string& value) {
        return std::map<std::string, std::string>{{"Cookie", "switchboard_admin=" + value}};
    };
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/plugins", "", cookie(session)).status, 200);
    // The raw token is no cookie any more.
    EXPECT_EQ(
        httpFrom("127.0.0.7", "GET", ports.admin, "/admin/api/plugins", "", cookie(kAdminToken))
            .status,
        401);
    EXPECT_EQ(httpFrom("127.0.0.7", "GET", ports.admin, "/admin/api/plugins", "",
                       cookie(std::string(64, 'a')))
                  .status,
              401);

    // Changes made with the cookie need the console's Origin; bearer requests do not.
    const std::string cookieChange =
        errorJson("a change made with the admin cookie needs the console's Origin");
    HttpResult noOrigin = http("POST", ports.admin, "/admin/api/reload", "", cookie(session));
    EXPECT_EQ(noOrigin.status, 403);
    EXPECT_EQ(noOrigin.body, cookieChange);
    // (With the session's CSRF token, which the Origin check comes before: ConsoleTest.)
    std::string csrf = http("GET", ports.admin, "/admin/api/session", "", cookie(session)).body;
    csrf = csrf.substr(csrf.find("\"csrf\":\"") + 8, 64);
    auto withOrigin = [&](const std::string& o) {
        auto headers = cookie(session);
        headers["Origin"] = o;
        headers["X-CSRF-Token"] = csrf;
        return http("POST", ports.admin, "/admin/api/reload", "", headers);
    };
    for (const std::string& foreign :
         {std::string("http://attacker.example"), std::string("null"),
          "http://127.0.0.1:" + std::to_string(ports.pub), std::string("file://")}) {
        HttpResult r = withOrigin(foreign);
        EXPECT_EQ(r.status, 403) << foreign;
        EXPECT_EQ(r.body, cookieChange) << foreign;
    }
    EXPECT_EQ(withOrigin(origin()).status, 200);
    EXPECT_EQ(withOrigin("http://localhost:" + std::to_string(ports.admin)).status, 200);
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", bearer()).status, 200);
    // A console login from a foreign page is refused as well.
    HttpResult foreignLogin = http("POST", ports.admin, "/admin/api/session",
                                   "{\"token\":\"" + std::string(kAdminToken) + "\"}",
                                   {{"Origin", "http://evil.example"}});
    EXPECT_EQ(foreignLogin.status, 403);
    EXPECT_EQ(foreignLogin.header("Set-Cookie"), "");

    // Logging out ends the session on the server.
    auto headers = cookie(session);
    headers["Origin"] = origin();
    headers["X-CSRF-Token"] = csrf;
    HttpResult out = http("DELETE", ports.admin, "/admin/api/session", "", headers);
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.header("Set-Cookie"),
              "switchboard_admin=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/plugins", "", cookie(session)).status, 401);
}

TEST(AdminAccessConfigTest, BadAllowedHostsAreConfigErrors) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports, "  testkit: { listener: public }\n");
    yaml.replace(yaml.find("admin: { token: "), 16,
                 "admin: { allowed_hosts: [\"http://x.example\", \"a b\", \"x:99999\"], token: ");
    dir.write("bad.yaml", yaml);
    RunResult r = runSwitchboard({"--check-config", "--config=bad.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    for (const char* entry : {"http://x.example", "a b", "x:99999"}) {
        EXPECT_NE(r.output.find(std::string("admin.allowed_hosts: '") + entry +
                                "' is not a host name, IPv4 address or [IPv6] address with an "
                                "optional :port"),
                  std::string::npos)
            << r.output;
    }
}

}  // namespace

namespace {

TEST(AdminEventsTest, AClosedEventStreamGivesItsThreadBack) {
    // One handler thread on the admin listener: while a stream's handler holds it, nothing
    // else on the listener is answered.
    TempDir dir;
    Ports ports;
    std::string yaml = withListener(configYaml(dir, ports, "  testkit: { listener: public }\n"),
                                    "admin", ports.admin, "threads: 1");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.admin)) << server.log();
    for (int i = 0; i < 3; ++i) {
        {
            EventStream events(ports.admin, "*");
            ASSERT_EQ(events.status(), 200);
        }  // the client closes its connection
        // Served once the stream's handler noticed, well before its 15 s keep-alive.
        RawSocket socket = RawSocket::connect(ports.admin);
        ASSERT_TRUE(
            socket.send("GET /admin/api/plugins HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer " +
                        std::string(kAdminToken) + "\r\n\r\n"));
        auto r = readResponse(socket, std::chrono::seconds(5));
        ASSERT_TRUE(r) << "the admin listener's thread is still held by a closed stream";
        EXPECT_EQ(r->status, 200);
    }
}

}  // namespace
