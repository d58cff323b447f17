// The admin console against the real binary: its embedded files and their security headers,
// the CSRF token that changes made with the console cookie need, the plugins' view
// descriptions at /admin/api/views (a fixture plugin the core does not know included) and the
// per-route request history behind the console's charts.
#include <gtest/gtest.h>

#include <regex>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

const std::map<std::string, std::string> kBearer{
    {"Authorization", std::string("Bearer ") + kAdminToken}};

std::string errorJson(const std::string& message) {
    return "{\"error\":\"" + message + "\"}";
}

class ConsoleTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string yaml = configYaml(dir, ports,
                                      "  testkit: { listener: public }\n"
                                      "  viewkit: { title: Sprockets }\n");
        yaml.replace(yaml.find("admin: { token: "), 16,
                     "admin: { history_interval: 1s, history_window: 30s, token: ");
        server = std::make_unique<ServerProcess>(dir, yaml);
        ASSERT_TRUE(server->waitReady(ports.admin)) << server->log();
    }
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(ports.admin); }
    /// Logs in; sets `cookie` and `csrf`.
    void login() {
        HttpResult r = http("POST", ports.admin, "/admin/api/session",
                            std::string("{\"token\":\"") + kAdminToken + "\"}");
        ASSERT_EQ(r.status, 200) << r.body;
        std::smatch m;
        std::string setCookie = r.header("Set-Cookie");
        ASSERT_TRUE(std::regex_search(setCookie, m, std::regex("switchboard_admin=([0-9a-f]{64})")))
            << setCookie;
        cookie = m[1].str();
        static const std::regex answer(
            "\\{\"session\":true,\"expires_in\":43200,\"csrf\":\"([0-9a-f]{64})\"\\}");
        ASSERT_TRUE(std::regex_match(r.body, m, answer)) << r.body;
        csrf = m[1].str();
    }
    std::map<std::string, std::string> withCookie(const std::string& token = "") const {
        std::map<std::string, std::string> h{{"Cookie", "switchboard_admin=" + cookie},
                                             {"Origin", origin()}};
        if (!token.empty()) {
            h["X-CSRF-Token"] = token;
        }
        return h;
    }

    TempDir dir;
    Ports ports;
    std::unique_ptr<ServerProcess> server;
    std::string cookie;
    std::string csrf;
};

void expectConsoleHeaders(const HttpResult& r) {
    EXPECT_EQ(r.header("Content-Security-Policy"),
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
}

TEST_F(ConsoleTest, TheEmbeddedFilesComeWithAStrictPolicy) {
    HttpResult page = http("GET", ports.admin, "/");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    expectConsoleHeaders(page);
    // The page is what core/console/index.html holds, byte for byte, and has no inline script
    // or style for the policy to refuse.
    EXPECT_EQ(page.body, readFile(std::string(SB_SOURCE_DIR) + "/core/console/index.html"));
    EXPECT_NE(page.body.find("<script src=\"/console/console.js\"></script>"), std::string::npos);
    EXPECT_EQ(page.body.find("<style"), std::string::npos);
    EXPECT_EQ(page.body.find(" style="), std::string::npos);
    EXPECT_EQ(std::regex_search(page.body, std::regex("<script>|<script [^>]*>[^<]")), false);

    HttpResult script = http("GET", ports.admin, "/console/console.js");
    ASSERT_EQ(script.status, 200);
    EXPECT_EQ(script.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(script.body, readFile(std::string(SB_SOURCE_DIR) + "/core/console/console.js"));
    expectConsoleHeaders(script);
    // Plugin views come from /admin/api/views: the console's code names no plugin.
    for (const char* plugin : {"pairing", "auth", "devices", "signaling", "messaging", "chat"}) {
        EXPECT_EQ(script.body.find(plugin), std::string::npos) << plugin;
        EXPECT_EQ(page.body.find(plugin), std::string::npos) << plugin;
    }
    HttpResult style = http("GET", ports.admin, "/console/console.css");
    ASSERT_EQ(style.status, 200);
    EXPECT_EQ(style.header("Content-Type"), "text/css; charset=utf-8");
    expectConsoleHeaders(style);

    HttpResult missing = http("GET", ports.admin, "/console/nope.js");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body, errorJson("no console file /console/nope.js"));
    expectConsoleHeaders(missing);
    // Only the listener's names, as for the API (DNS rebinding).
    HttpResult foreign = http("GET", ports.admin, "/", "", {{"Host", "attacker.example"}});
    EXPECT_EQ(foreign.status, 421);
    // The console is the admin listener's alone.
    EXPECT_EQ(http("GET", ports.pub, "/console/console.js").status, 404);
}

TEST_F(ConsoleTest, CookieChangesNeedTheSessionsCsrfToken) {
    login();
    const std::string refused = errorJson(
        "a change made with the admin cookie needs the X-CSRF-Token header from the console "
        "login");
    HttpResult none = http("POST", ports.admin, "/admin/api/reload", "", withCookie());
    EXPECT_EQ(none.status, 403);
    EXPECT_EQ(none.body, refused);
    HttpResult wrong =
        http("POST", ports.admin, "/admin/api/reload", "", withCookie(std::string(64, '0')));
    EXPECT_EQ(wrong.status, 403);
    EXPECT_EQ(wrong.body, refused);
    // The cookie's own value is not the token either.
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", withCookie(cookie)).status, 403);
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", withCookie(csrf)).status, 200);
    // Reads need none; Bearer clients need none at all.
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/plugins", "", withCookie()).status, 200);
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", kBearer).status, 200);

    // After a page reload the console asks for the token again.
    HttpResult session = http("GET", ports.admin, "/admin/api/session", "", withCookie());
    EXPECT_EQ(session.status, 200);
    EXPECT_EQ(session.body, "{\"session\":true,\"csrf\":\"" + csrf + "\"}");
    EXPECT_EQ(session.header("Cache-Control"), "no-store");
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/session", "", kBearer).body,
              "{\"session\":false,\"csrf\":null}");
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/session").status, 401);

    // Another session has another token: one session's token does not open another's.
    std::string first = cookie;
    std::string firstCsrf = csrf;
    login();
    EXPECT_NE(csrf, firstCsrf);
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/reload", "", withCookie(firstCsrf)).status,
              403);

    // Logging out is a change too.
    EXPECT_EQ(http("DELETE", ports.admin, "/admin/api/session", "", withCookie()).status, 403);
    EXPECT_EQ(http("DELETE", ports.admin, "/admin/api/session", "", withCookie(csrf)).status, 200);
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/plugins", "", withCookie()).status, 401);
}

TEST_F(ConsoleTest, PluginsViewsAreServedAsData) {
    HttpResult r = http("GET", ports.admin, "/admin/api/views", "", kBearer);
    ASSERT_EQ(r.status, 200) << r.body;
    // viewkit is a fixture the core has never heard of: its view is there with absolute paths.
    EXPECT_EQ(r.body,
              "{\"views\":[{\"plugin\":\"viewkit\",\"id\":\"widgets\",\"title\":\"Sprockets\","
              "\"endpoint\":\"/admin/api/viewkit/widgets\",\"search\":true,\"paginate\":true,"
              "\"columns\":[{\"key\":\"id\",\"label\":\"Id\",\"format\":\"text\"},"
              "{\"key\":\"name\",\"label\":\"Name\",\"format\":\"text\"}],"
              "\"actions\":[{\"label\":\"Delete\",\"method\":\"DELETE\",\"path\":"
              "\"/admin/api/viewkit/widgets/{id}\",\"scope\":\"row\",\"confirm\":"
              "\"Delete this widget?\",\"fields\":[],\"shows\":[]},"
              "{\"label\":\"Add\",\"method\":\"POST\",\"path\":\"/admin/api/viewkit/widgets\","
              "\"scope\":\"view\",\"confirm\":\"\",\"fields\":[{\"name\":\"name\",\"label\":"
              "\"Name\",\"type\":\"text\",\"required\":true}],\"shows\":[]}]}]}");
    // The endpoint it names answers.
    HttpResult list = http("GET", ports.admin, "/admin/api/viewkit/widgets", "", kBearer);
    EXPECT_EQ(list.status, 200);
    EXPECT_NE(list.body.find("sprocket"), std::string::npos);
    // Behind the token like every admin route.
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/views").status, 401);
}

/// The points of `route` in a /admin/api/metrics/history answer, checking each one's shape: its
/// rate over the 1 s interval, and a p99 within the histogram's bounds (null without requests).
/// Returns the sum of their requests, -1 if the route is not in the answer.
int requestsIn(const std::string& body, const std::string& route) {
    std::smatch m;
    std::regex series("\\{\"listener\":\"public\",\"method\":\"GET\",\"route\":\"" + route +
                      "\",\"points\":\\[([^\\]]*)\\]\\}");
    if (!std::regex_search(body, m, series)) {
        return -1;
    }
    std::string points = m[1].str();
    std::regex point(
        R"(\{"time":[0-9.e+]+,"requests":([0-9]+),"rate":([0-9.e+-]+),"p99":([^}]+)\})");
    int total = 0;
    for (auto it = std::sregex_iterator(points.begin(), points.end(), point);
         it != std::sregex_iterator(); ++it) {
        int n = std::stoi((*it)[1].str());
        total += n;
        EXPECT_DOUBLE_EQ(std::stod((*it)[2].str()), n);
        if (n == 0) {
            EXPECT_EQ((*it)[3].str(), "null");
        } else {
            double p99 = std::stod((*it)[3].str());
            EXPECT_GT(p99, 0.0);
            EXPECT_LE(p99, 2.5);
        }
    }
    return total;
}

TEST_F(ConsoleTest, TheRequestHistoryCountsEachRoute) {
    for (int i = 0; i < 7; ++i) {
        ASSERT_EQ(http("GET", ports.pub, "/testkit/greeting").status, 200);
    }
    // The seven requests fall into one sample or two, each taken within a second.
    std::string body;
    ASSERT_TRUE(eventually(
        [&] {
            body = http("GET", ports.admin, "/admin/api/metrics/history", "", kBearer).body;
            return requestsIn(body, "/testkit/greeting") == 7;
        },
        std::chrono::seconds(10)))
        << body;
    EXPECT_EQ(body.rfind("{\"interval\":1.0,\"samples\":30,\"routes\":[", 0), 0u) << body;
    // A route nobody called is left out.
    EXPECT_EQ(requestsIn(body, "/testkit/slow"), -1) << body;
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/metrics/history").status, 401);
}

}  // namespace
