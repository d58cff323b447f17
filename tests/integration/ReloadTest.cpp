// Configuration reload through SIGHUP and POST /admin/api/reload: changed plugins restart,
// unchanged ones keep running untouched, Lua scripts reload, a bad config changes nothing.
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <map>
#include <thread>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::map<std::string, std::string> admin() {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

class ReloadTest : public ::testing::Test {
protected:
    void SetUp() override {
        script = dir.write("hooks.lua", "function answer(x) return 1 end\n");
        server = std::make_unique<ServerProcess>(dir, config("one", true));
        ASSERT_TRUE(server->waitReady(ports.pub)) << server->log();
    }
    std::string config(const std::string& greeting, bool testkitEnabled,
                       const std::string& extraPlugin = "") {
        // A reload waits for a held request for up to shutdown_timeout: longer than a test
        // holds one, so what a test sees never depends on the machine's speed.
        return longShutdown(configYaml(dir, ports,
                                       "  pairing: { listener: pairing }\n"
                                       "  testkit: { listener: public, greeting: " +
                                           greeting +
                                           ", enabled: " + (testkitEnabled ? "true" : "false") +
                                           " }\n" + extraPlugin,
                                       "lua: { scripts: [" + script + "] }\n"));
    }
    static std::string longShutdown(std::string yaml) {
        const std::string from = "shutdown_timeout: 2s";
        return yaml.replace(yaml.find(from), from.size(), "shutdown_timeout: 20s");
    }
    std::string greeting() { return http("GET", ports.pub, "/testkit/greeting").body; }
    std::unique_ptr<Poco::Net::WebSocket> openSocket() {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(ports.pub));
        Poco::Net::HTTPRequest request("GET", "/testkit/ws", Poco::Net::HTTPMessage::HTTP_1_1);
        Poco::Net::HTTPResponse response;
        auto ws = std::make_unique<Poco::Net::WebSocket>(session, request, response);
        ws->setReceiveTimeout(Poco::Timespan(10, 0));
        return ws;
    }
    /// Sends `text` and returns the reply, "closed" if the server closed the socket, or
    /// "no answer in 10 s".
    static std::string roundTrip(Poco::Net::WebSocket& ws, const std::string& text) {
        char buffer[256];
        int flags = 0;
        try {
            ws.sendFrame(text.data(), static_cast<int>(text.size()),
                         Poco::Net::WebSocket::FRAME_TEXT);
            int n = ws.receiveFrame(buffer, sizeof buffer, flags);
            if (n <= 0 || (flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) ==
                              Poco::Net::WebSocket::FRAME_OP_CLOSE) {
                return "closed";
            }
            return std::string(buffer, static_cast<std::size_t>(n));
        } catch (const Poco::TimeoutException&) {
            return "no answer in 10 s";  // a hang is not a close
        } catch (const Poco::Exception&) {
            return "closed";
        }
    }
    void rewrite(const std::string& yaml) { dir.write("switchboard.yaml", yaml); }
    /// GET /testkit/hold in the background: inside the handler once entered() exists, until
    /// release().
    std::future<HttpResult> hold() {
        return std::async(std::launch::async, [this] {
            return http("GET", ports.pub,
                        "/testkit/hold?entered=" + entered() + "&release=" + dir.file("release"));
        });
    }
    std::string entered() const { return dir.file("entered"); }
    void release() const { dir.write("release", ""); }

    TempDir dir;
    Ports ports;
    std::string script;
    std::unique_ptr<ServerProcess> server;
};

TEST_F(ReloadTest, SighupAppliesChangedPluginConfig) {
    EXPECT_EQ(greeting(), "{\"greeting\":\"one\"}");
    rewrite(config("two", true));
    server->signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return greeting() == "{\"greeting\":\"two\"}"; }))
        << server->log();
    EXPECT_TRUE(server->running());
}

TEST_F(ReloadTest, UnchangedPluginKeepsItsState) {
    HttpResult reg = http("POST", ports.pairing, "/register_server",
                          "{\"ssh_pubkey\":\"k\",\"ssh_user\":\"u\",\"ssh_tunnel\":1,"
                          "\"listen_pubkey_tunnel\":2}");
    ASSERT_EQ(reg.status, 200);
    std::string code = reg.body.substr(reg.body.find(':') + 1);
    code = code.substr(0, code.find_first_not_of("0123456789"));
    rewrite(config("two", true));
    server->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return greeting() == "{\"greeting\":\"two\"}"; }));
    HttpResult details =
        http("POST", ports.pairing, "/get_server_details", "{\"pairing_code\":" + code + "}");
    EXPECT_EQ(details.status, 200) << details.body;
    EXPECT_FALSE(contains(server->log(), "switchboard.pairing: stopped")) << server->log();
}

TEST_F(ReloadTest, EnableAndDisableThroughAdminApi) {
    rewrite(config("one", false));
    HttpResult r = http("POST", ports.admin, "/admin/api/reload", "", admin());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"reloaded\":true}");
    EXPECT_EQ(http("GET", ports.pub, "/testkit/greeting").status, 404);
    HttpResult plugins = http("GET", ports.admin, "/admin/api/plugins", "", admin());
    EXPECT_TRUE(contains(plugins.body, "{\"name\":\"testkit\",\"state\":\"disabled\""))
        << plugins.body;

    rewrite(config("three", true));
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", admin()).status, 200);
    EXPECT_EQ(greeting(), "{\"greeting\":\"three\"}");
}

TEST_F(ReloadTest, BadConfigIsRejectedAndTheOldOneStays) {
    rewrite(config("two", true) + "  pairing_typo: {}\n");
    rewrite(configYaml(dir, ports,
                       "  pairing: { listener: pairing, offline_after: never }\n"
                       "  testkit: { listener: public, greeting: two }\n"));
    HttpResult r = http("POST", ports.admin, "/admin/api/reload", "", admin());
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(contains(r.body, "\"error\":\"config rejected; the running configuration stays\""))
        << r.body;
    EXPECT_TRUE(contains(r.body, "plugins.pairing.offline_after: expected a duration like 90s"))
        << r.body;
    EXPECT_EQ(greeting(), "{\"greeting\":\"one\"}");

    server->signal(SIGHUP);
    EXPECT_TRUE(server->waitForLog("reload rejected")) << server->log();
    EXPECT_TRUE(server->running());
    EXPECT_EQ(greeting(), "{\"greeting\":\"one\"}");
}

TEST_F(ReloadTest, LuaScriptsReload) {
    HttpResult before = http("POST", ports.pub, "/testkit/hook/answer", "{}");
    EXPECT_EQ(before.status, 200);
    EXPECT_EQ(before.body, "[1]");
    dir.write("hooks.lua", "function answer(x) return 2 end\n");
    server->signal(SIGHUP);
    EXPECT_TRUE(eventually([&] {
        return http("POST", ports.pub, "/testkit/hook/answer", "{}").body == "[2]";
    })) << server->log();
    // A script with a syntax error is rejected; the previous one keeps answering.
    dir.write("hooks.lua", "function answer(x) return end end\n");
    HttpResult r = http("POST", ports.admin, "/admin/api/reload", "", admin());
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(contains(r.body, "hooks.lua:1:")) << r.body;
    EXPECT_EQ(http("POST", ports.pub, "/testkit/hook/answer", "{}").body, "[2]");
}

TEST_F(ReloadTest, RequestsInsideARestartedPluginFinishFirst) {
    auto held = hold();
    ASSERT_TRUE(eventually([&] { return Poco::File(entered()).exists(); })) << server->log();
    rewrite(config("two", true));
    auto reload = std::async(std::launch::async, [&] {
        return http("POST", ports.admin, "/admin/api/reload", "", admin());
    });
    // The restart has begun (its routes say so) and waits for the request inside.
    EXPECT_TRUE(eventually([&] {
        return http("GET", ports.pub, "/testkit/greeting").status == 503;
    })) << server->log();
    EXPECT_EQ(reload.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
    release();
    HttpResult r = held.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"held_by\":\"one\"}");  // the old instance, still whole
    HttpResult done = reload.get();
    EXPECT_EQ(done.status, 200) << done.body;
    EXPECT_TRUE(server->running()) << server->log();
    EXPECT_EQ(greeting(), "{\"greeting\":\"two\"}");
    EXPECT_FALSE(contains(server->log(), "still running")) << server->log();
}

TEST_F(ReloadTest, ARestartingPluginsRoutesAnswer503NeverNotFound) {
    // A request held inside the plugin holds its restart; meanwhile its other routes must say
    // "retry" (a TunneLink client reads 404 as "server not registered").
    auto held = hold();
    ASSERT_TRUE(eventually([&] { return Poco::File(entered()).exists(); })) << server->log();
    rewrite(config("two", true));
    auto reload = std::async(std::launch::async, [&] {
        return http("POST", ports.admin, "/admin/api/reload", "", admin());
    });
    std::map<int, int> statuses;
    std::string retryAfter, message;
    auto ask = [&] {
        HttpResult r = http("GET", ports.pub, "/testkit/greeting");
        ++statuses[r.status];
        if (r.status == 503) {
            retryAfter = r.header("retry-after");
            message = r.body;
        }
        return r;
    };
    EXPECT_TRUE(eventually([&] { return ask().status == 503; })) << server->log();
    release();
    EXPECT_TRUE(eventually([&] { return ask().body == "{\"greeting\":\"two\"}"; }))
        << server->log();
    EXPECT_EQ(reload.get().status, 200);
    EXPECT_EQ(held.get().status, 200);
    EXPECT_EQ(statuses.count(404), 0u);
    EXPECT_GT(statuses[503], 0);
    EXPECT_EQ(retryAfter, "1");
    EXPECT_EQ(message, "{\"error\":\"plugin testkit is restarting; retry shortly\"}");
}

TEST_F(ReloadTest, OnlyTheRestartedPluginsConnectionsClose) {
    auto ws = openSocket();
    ASSERT_EQ(roundTrip(*ws, "one"), "one");
    // pairing changes (and restarts); testkit's WebSocket is untouched.
    rewrite(configYaml(dir, ports,
                       "  pairing: { listener: pairing, offline_after: 91s }\n"
                       "  testkit: { listener: public, greeting: one, enabled: true }\n",
                       "lua: { scripts: [" + script + "] }\n"));
    ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "", admin()).status, 200);
    EXPECT_EQ(roundTrip(*ws, "two"), "two");
    // testkit changes: its connections end with the old instance.
    rewrite(config("three", true));
    ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "", admin()).status, 200);
    EXPECT_EQ(roundTrip(*ws, "three"), "closed");
    auto fresh = openSocket();
    EXPECT_EQ(roundTrip(*fresh, "four"), "four");
    EXPECT_TRUE(server->waitForLog("plugin testkit: closing 1 connection(s)")) << server->log();
}

TEST_F(ReloadTest, NoCallbackRunsAfterAPluginStops) {
    // The probe's timer, bus subscriber and WebSocket close handler log "callback after stop"
    // if the host calls them once stop() has begun (Plugin.h's lifecycle guarantee).
    auto probe = [&](const std::string& greeting) {
        return configYaml(
            dir, ports,
            "  testkit: { listener: public, lifecycle_probe: true, greeting: " + greeting + " }\n");
    };
    rewrite(probe("one"));
    ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "", admin()).status, 200);
    for (const char* greeting : {"two", "three"}) {
        auto ws = openSocket();
        ASSERT_EQ(roundTrip(*ws, "hi"), "hi");
        rewrite(probe(greeting));  // a new instance: the old one stops with a socket open
        ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "", admin()).status, 200);
        EXPECT_EQ(roundTrip(*ws, "again"), "closed");
    }
    auto ws = openSocket();
    ASSERT_EQ(roundTrip(*ws, "hi"), "hi");
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(std::chrono::seconds(20)), 0);
    std::string log = server->log();
    EXPECT_TRUE(contains(log, "switchboard.testkit: stopped")) << log;
    EXPECT_FALSE(contains(log, "callback after stop")) << log;
}

TEST_F(ReloadTest, SigtermStopsGracefully) {
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(std::chrono::seconds(20)), 0);
    std::string log = server->log();
    EXPECT_TRUE(contains(log, "switchboard.testkit: stopped")) << log;
    EXPECT_TRUE(contains(log, "switchboard.pairing: stopped")) << log;
    // reverse order: testkit (declared later) stops before pairing
    EXPECT_LT(log.find("switchboard.testkit: stopped"), log.find("switchboard.pairing: stopped"));
}

}  // namespace
