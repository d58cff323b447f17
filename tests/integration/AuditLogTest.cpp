// The audit log (GET /admin/api/audit): every admin action and security event the server
// records, with actor, address and time, newest first and paginated; the limiters' refusals
// once each; the retention (audit.retention) pruned at start and periodically.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

std::map<std::string, std::string> bearer() {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

HttpResult admin(const std::string& method, int port, const std::string& path,
                 const std::string& body = "") {
    return http(method, port, path, body, bearer());
}

const char* kPlugins =
    "  auth: { listener: public, jwt: { secret: \"0123456789abcdef0123456789abcdef\" }, "
    "password_hash: { memory: 8MiB, passes: 1 }, rate_limit: { per_address: 2, per_account: 100 } "
    "}\n"
    "  devices: { listener: public, rate_limit: { per_device: 2, per_address: 100 } }\n"
    "  pairing: { listener: pairing, rate_limit: { per_address: 2 } }\n";

/// The entries of one GET /admin/api/audit?action=... (all pages of at most 1000).
struct Entries {
    rapidjson::Document doc;
    std::string body;
    std::size_t size() const { return doc["items"].Size(); }
    const rapidjson::Value& at(std::size_t i) const { return doc["items"][i]; }
    std::string detail(std::size_t i) const;
};

std::string Entries::detail(std::size_t i) const {
    auto raw = body;  // the detail as the server wrote it: find the i-th "detail":{...}
    std::size_t at = 0;
    for (std::size_t n = 0; n <= i; ++n) {
        at = raw.find("\"detail\":", at) + 9;
    }
    int depth = 0;
    std::size_t end = at;
    do {
        depth += raw[end] == '{' ? 1 : raw[end] == '}' ? -1 : 0;
        ++end;
    } while (depth > 0 && end < raw.size());
    return raw.substr(at, end - at);
}

class AuditLogTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        yaml = new std::string(configYaml(*dir, *ports, kPlugins,
                                          "audit: { retention: 1h }\n"
                                          "admin: { rate_limit: { per_address: 3 } }\n"));
        // configYaml writes its own admin: line; the second mapping would be a duplicate key.
        std::size_t own = yaml->find("admin: { token: ");
        std::size_t ours = yaml->find("admin: { rate_limit");
        yaml->erase(ours, yaml->find('\n', ours) - ours + 1);
        yaml->replace(own, std::string("admin: { token: ").size(),
                      "admin: { rate_limit: { per_address: 3 }, token: ");
        server = new ServerProcess(*dir, *yaml);
        ready = server->waitReady(ports->admin);
    }
    static void TearDownTestSuite() {
        delete server;
        delete yaml;
        delete ports;
        delete dir;
    }
    void SetUp() override { ASSERT_TRUE(ready) << server->log(); }

    static Entries audit(const std::string& action) {
        Entries e;
        HttpResult r = admin("GET", ports->admin, "/admin/api/audit?limit=1000&action=" + action);
        EXPECT_EQ(r.status, 200) << r.body;
        e.body = r.body;
        e.doc.Parse(r.body.c_str());
        EXPECT_TRUE(e.doc.IsObject() && e.doc["items"].IsArray()) << r.body;
        return e;
    }
    static void expectEntry(const Entries& e, std::size_t i, const std::string& actor,
                            const std::string& address, const std::string& detail) {
        ASSERT_LT(i, e.size()) << e.body;
        EXPECT_EQ(std::string(e.at(i)["actor"].GetString()), actor) << e.body;
        EXPECT_EQ(std::string(e.at(i)["address"].GetString()), address) << e.body;
        EXPECT_EQ(e.detail(i), detail) << e.body;
        double age = static_cast<double>(std::time(nullptr)) - e.at(i)["time"].GetDouble();
        EXPECT_TRUE(age > -2 && age < 120) << e.body;
    }

    static TempDir* dir;
    static Ports* ports;
    static std::string* yaml;
    static ServerProcess* server;
    static bool ready;
};

TempDir* AuditLogTest::dir = nullptr;
Ports* AuditLogTest::ports = nullptr;
std::string* AuditLogTest::yaml = nullptr;
ServerProcess* AuditLogTest::server = nullptr;
bool AuditLogTest::ready = false;

TEST_F(AuditLogTest, AdminTokenFailuresAndTheLimiterStartingToRefuse) {
    std::map<std::string, std::string> wrong{{"Authorization", "Bearer not-the-token"}};
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(
            httpFrom("127.0.0.2", "GET", ports->admin, "/admin/api/plugins", "", wrong).status,
            401);
    }
    EXPECT_EQ(httpFrom("127.0.0.2", "POST", ports->admin, "/admin/api/session",
                       R"({"token":"also-wrong"})")
                  .status,
              401);
    for (int i = 0; i < 3; ++i) {  // refused from now on: not recorded again
        EXPECT_EQ(
            httpFrom("127.0.0.2", "GET", ports->admin, "/admin/api/plugins", "", wrong).status,
            429);
    }
    Entries failed = audit("admin.login_failed");
    ASSERT_EQ(failed.size(), 3u) << failed.body;
    expectEntry(failed, 0, "anonymous", "127.0.0.2", "{\"credential\":\"console\"}");
    expectEntry(failed, 1, "anonymous", "127.0.0.2", "{\"credential\":\"bearer\"}");
    Entries limited = audit("admin.login_limited");
    ASSERT_EQ(limited.size(), 1u) << limited.body;
    EXPECT_EQ(std::string(limited.at(0)["address"].GetString()), "127.0.0.2");
    EXPECT_EQ(limited.detail(0).rfind("{\"retry_after\":", 0), 0u) << limited.body;

    HttpResult login = http("POST", ports->admin, "/admin/api/session",
                            std::string("{\"token\":\"") + kAdminToken + "\"}");
    ASSERT_EQ(login.status, 200);
    std::string cookie = login.header("Set-Cookie").substr(0, login.header("Set-Cookie").find(';'));
    // The login's answer carries the CSRF token a change made with the cookie must send.
    std::size_t at = login.body.find("\"csrf\":\"");
    ASSERT_NE(at, std::string::npos) << login.body;
    std::string csrf = login.body.substr(at + 8, login.body.find('"', at + 8) - at - 8);
    EXPECT_EQ(http("DELETE", ports->admin, "/admin/api/session", "",
                   {{"Cookie", cookie},
                    {"Origin", "http://127.0.0.1:" + std::to_string(ports->admin)},
                    {"X-CSRF-Token", csrf}})
                  .status,
              200);
    expectEntry(audit("admin.login"), 0, "admin", "127.0.0.1", "{}");
    expectEntry(audit("admin.logout"), 0, "admin", "127.0.0.1", "{}");
}

TEST_F(AuditLogTest, ReloadsAppliedAndRejected) {
    EXPECT_EQ(admin("POST", ports->admin, "/admin/api/reload").status, 200);
    expectEntry(audit("reload.applied"), 0, "admin", "127.0.0.1",
                "{\"via\":\"api\",\"problems\":[]}");
    dir->write("switchboard.yaml", *yaml + "bogus: 1\n");
    EXPECT_EQ(admin("POST", ports->admin, "/admin/api/reload").status, 400);
    server->signal(SIGHUP);
    ASSERT_TRUE(eventually([] { return audit("reload.rejected").size() == 2; }));
    dir->write("switchboard.yaml", *yaml);
    Entries rejected = audit("reload.rejected");
    std::string line = std::to_string(std::count(yaml->begin(), yaml->end(), '\n') + 1);
    expectEntry(rejected, 0, "admin", "",
                "{\"via\":\"signal\",\"problems\":[\"" + dir->file("switchboard.yaml") + ":" +
                    line + ": bogus: unknown key\"]}");
    EXPECT_EQ(rejected.detail(1).rfind("{\"via\":\"api\",\"problems\":[\"", 0), 0u);
}

TEST_F(AuditLogTest, PluginTogglesAndRefusals) {
    EXPECT_EQ(admin("POST", ports->admin, "/admin/api/plugins/pairing/disable").status, 200);
    EXPECT_EQ(admin("POST", ports->admin, "/admin/api/plugins/pairing/enable").status, 200);
    EXPECT_EQ(admin("DELETE", ports->admin, "/admin/api/plugins/pairing/override").status, 200);
    expectEntry(audit("plugin.disabled"), 0, "admin", "127.0.0.1",
                "{\"plugin\":\"pairing\",\"problems\":[]}");
    expectEntry(audit("plugin.enabled"), 0, "admin", "127.0.0.1",
                "{\"plugin\":\"pairing\",\"problems\":[]}");
    expectEntry(audit("plugin.override_reset"), 0, "admin", "127.0.0.1",
                "{\"plugin\":\"pairing\",\"problems\":[]}");
    dir->write("switchboard.yaml", *yaml + "bogus: 1\n");
    EXPECT_EQ(admin("POST", ports->admin, "/admin/api/plugins/pairing/disable").status, 409);
    dir->write("switchboard.yaml", *yaml);
    Entries refused = audit("plugin.override_rejected");
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused.detail(0).rfind("{\"plugin\":\"pairing\",\"problems\":[\"", 0), 0u);
}

TEST_F(AuditLogTest, DeviceTokensCreatedBurnedLimitedAndRevocations) {
    HttpResult enrol =
        admin("POST", ports->admin, "/admin/api/devices", R"({"device_key":"audited-1"})");
    ASSERT_EQ(enrol.status, 201) << enrol.body;
    HttpResult again = admin("POST", ports->admin, "/admin/api/devices/audited-1/token");
    ASSERT_EQ(again.status, 200);
    std::string code = again.body.substr(again.body.find("\"token_code\":\"") + 14, 6);
    Entries created = audit("device.token_created");
    ASSERT_GE(created.size(), 2u);
    expectEntry(created, 0, "admin", "127.0.0.1",
                "{\"device_key\":\"audited-1\",\"enrolled\":false}");
    expectEntry(created, 1, "admin", "127.0.0.1",
                "{\"device_key\":\"audited-1\",\"enrolled\":true}");
    EXPECT_EQ(enrol.body.find(code), std::string::npos);    // a new code
    EXPECT_EQ(created.body.find(code), std::string::npos);  // never the secret

    EXPECT_EQ(http("POST", ports->pub, "/api/devices/audited-1/register",
                   "{\"token_code\":\"" + code + "\"}")
                  .status,
              200);
    expectEntry(audit("device.token_burned"), 0, "device:audited-1", "127.0.0.1",
                "{\"device_key\":\"audited-1\"}");

    ASSERT_EQ(
        admin("POST", ports->admin, "/admin/api/devices", R"({"device_key":"audited-2"})").status,
        201);
    for (int i = 0; i < 4; ++i) {  // per_device 2: two 401s, then 429s
        httpFrom("127.0.0.4", "POST", ports->pub, "/api/devices/audited-2/register",
                 R"({"token_code":"000000"})");
    }
    Entries limited = audit("device.token_limited");
    ASSERT_EQ(limited.size(), 1u) << limited.body;
    EXPECT_EQ(std::string(limited.at(0)["address"].GetString()), "127.0.0.4");
    EXPECT_EQ(limited.detail(0).rfind("{\"by\":\"device\",\"device_key\":\"audited-2\"", 0), 0u)
        << limited.body;

    EXPECT_EQ(admin("DELETE", ports->admin, "/admin/api/devices/audited-1").status, 200);
    expectEntry(audit("device.revoked"), 0, "admin", "127.0.0.1", "{\"device_key\":\"audited-1\"}");
}

TEST_F(AuditLogTest, SessionsRevokedAccountsDeletedAndLoginLimits) {
    HttpResult reg =
        http("POST", ports->pub, "/register",
             R"({"email":"ada@example.com","password":"password123","username":"ada"})");
    ASSERT_EQ(reg.status, 201) << reg.body;
    HttpResult login =
        http("POST", ports->pub, "/login", R"({"username":"ada","password":"password123"})");
    ASSERT_EQ(login.status, 200);
    HttpResult sessions = admin("GET", ports->admin, "/admin/api/auth/sessions");
    std::size_t at = sessions.body.find("{\"id\":\"") + 7;
    std::string session = sessions.body.substr(at, sessions.body.find('"', at) - at);
    EXPECT_EQ(admin("DELETE", ports->admin, "/admin/api/auth/sessions/" + session).status, 200);
    expectEntry(audit("session.revoked"), 0, "admin", "127.0.0.1",
                "{\"session_id\":\"" + session + "\"}");

    std::string id = reg.body.substr(6, reg.body.find(',') - 6);
    EXPECT_EQ(admin("DELETE", ports->admin, "/admin/api/auth/users/" + id).status, 200);
    expectEntry(audit("user.deleted"), 0, "admin", "127.0.0.1",
                "{\"user_id\":" + id + ",\"username\":\"ada\"}");

    HttpResult self =
        http("POST", ports->pub, "/register",
             R"({"email":"bo@example.com","password":"password123","username":"bo"})");
    std::string selfId = self.body.substr(6, self.body.find(',') - 6);
    HttpResult bo =
        http("POST", ports->pub, "/login", R"({"username":"bo","password":"password123"})");
    std::string jwt = bo.body.substr(bo.body.find("\"access_token\":\"") + 16);
    jwt = jwt.substr(0, jwt.find('"'));
    EXPECT_EQ(http("DELETE", ports->pub, "/account", R"({"current_password":"password123"})",
                   {{"Authorization", "Bearer " + jwt}})
                  .status,
              200);
    expectEntry(audit("user.deleted"), 0, "user:" + selfId, "127.0.0.1",
                "{\"user_id\":" + selfId + ",\"username\":\"bo\"}");

    for (int i = 0; i < 4; ++i) {  // per_address 2: two 401s, then 429s
        httpFrom("127.0.0.3", "POST", ports->pub, "/login",
                 R"({"username":"nobody","password":"wrong-password"})");
    }
    Entries limited = audit("auth.login_limited");
    ASSERT_EQ(limited.size(), 1u) << limited.body;
    EXPECT_EQ(std::string(limited.at(0)["address"].GetString()), "127.0.0.3");
    EXPECT_EQ(limited.detail(0).rfind("{\"by\":\"address\",\"retry_after\":", 0), 0u);
}

TEST_F(AuditLogTest, PairingCodeLookupsLimited) {
    for (int i = 0; i < 4; ++i) {
        httpFrom("127.0.0.5", "POST", ports->pairing, "/get_server_details",
                 R"({"pairing_code":1234})");
    }
    Entries limited = audit("pairing.code_limited");
    ASSERT_EQ(limited.size(), 1u) << limited.body;
    EXPECT_EQ(std::string(limited.at(0)["actor"].GetString()), "anonymous");
    EXPECT_EQ(std::string(limited.at(0)["address"].GetString()), "127.0.0.5");
}

TEST_F(AuditLogTest, ListsNewestFirstInPagesAndRefusesBadParameters) {
    for (int i = 0; i < 3; ++i) {
        admin("POST", ports->admin, "/admin/api/reload");
    }
    HttpResult all = admin("GET", ports->admin, "/admin/api/audit");
    rapidjson::Document d;
    d.Parse(all.body.c_str());
    ASSERT_TRUE(d.IsObject()) << all.body;
    std::int64_t total = d["total"].GetInt64();
    EXPECT_GE(total, 3);
    EXPECT_EQ(d["limit"].GetInt(), 100);
    EXPECT_EQ(d["offset"].GetInt(), 0);
    const auto& items = d["items"];
    for (rapidjson::SizeType i = 1; i < items.Size(); ++i) {
        EXPECT_GT(items[i - 1]["id"].GetInt64(), items[i]["id"].GetInt64());
        EXPECT_GE(items[i - 1]["time"].GetDouble(), items[i]["time"].GetDouble());
    }
    HttpResult page = admin("GET", ports->admin, "/admin/api/audit?limit=1&offset=1");
    rapidjson::Document p;
    p.Parse(page.body.c_str());
    ASSERT_EQ(p["items"].Size(), 1u);
    EXPECT_EQ(p["items"][0]["id"].GetInt64(), items[1]["id"].GetInt64());
    EXPECT_EQ(p["total"].GetInt64(), total);
    Entries none = audit("no.such_action");
    EXPECT_EQ(none.body, "{\"items\":[],\"total\":0,\"limit\":1000,\"offset\":0}");

    for (const char* bad : {"limit=0", "limit=1001", "limit=abc", "limit=-1"}) {
        HttpResult r = admin("GET", ports->admin, std::string("/admin/api/audit?") + bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(r.body, "{\"error\":\"limit must be an integer between 1 and 1000\"}") << bad;
    }
    HttpResult off = admin("GET", ports->admin, "/admin/api/audit?offset=-3");
    EXPECT_EQ(off.status, 400);
    EXPECT_EQ(off.body, "{\"error\":\"offset must be an integer between 0 and 1000000000\"}");
    EXPECT_EQ(http("GET", ports->admin, "/admin/api/audit").status, 401);
}

TEST(AuditRetentionTest, OldEntriesArePrunedAtStartAndPeriodically) {
    TempDir dir;
    Ports ports;
    std::string base = configYaml(dir, ports, "  pairing: { listener: pairing }\n");
    auto server = std::make_unique<ServerProcess>(dir, base);
    ASSERT_TRUE(server->waitReady(ports.admin)) << server->log();
    server->signal(SIGTERM);
    ASSERT_EQ(server->wait(), 0);
    std::string db = dir.path() + "/var/switchboard.db";
    double now = static_cast<double>(std::time(nullptr));
    executeOnDatabase(db,
                      "INSERT INTO audit_log (id, time, actor, address, action, detail) VALUES "
                      "(1001, 1000.5, 'admin', '', 'test.ancient', '{}')");
    executeOnDatabase(db,
                      "INSERT INTO audit_log (id, time, actor, address, action, detail) VALUES "
                      "(1002, " +
                          std::to_string(now) + ", 'admin', '', 'test.recent', '{}')");
    // A day's retention: the ancient entry goes at start, the recent one stays.
    dir.write("switchboard.yaml", base + "audit: { retention: 1d }\n");
    server = std::make_unique<ServerProcess>(dir, base + "audit: { retention: 1d }\n");
    ASSERT_TRUE(server->waitReady(ports.admin)) << server->log();
    EXPECT_EQ(admin("GET", ports.admin, "/admin/api/audit?action=test.ancient").body,
              "{\"items\":[],\"total\":0,\"limit\":100,\"offset\":0}");
    EXPECT_NE(
        admin("GET", ports.admin, "/admin/api/audit?action=test.recent").body.find("\"id\":1002"),
        std::string::npos);
    EXPECT_TRUE(server->waitForLog("pruned 1 audit entries older than the retention"));

    // Two seconds' retention, applied by a reload: new entries go within a few seconds.
    dir.write("switchboard.yaml", base + "audit: { retention: 2s }\n");
    ASSERT_EQ(admin("POST", ports.admin, "/admin/api/reload").status, 200);
    EXPECT_TRUE(eventually(
        [&] {
            return admin("GET", ports.admin, "/admin/api/audit").body.find("\"total\":0,") !=
                   std::string::npos;
        },
        std::chrono::seconds(15)))
        << admin("GET", ports.admin, "/admin/api/audit").body;
    // Pruned by the periodic round (the one at start found nothing this young).
    EXPECT_TRUE(eventually([&] {
        std::string log = server->log();
        std::size_t first = log.find("pruned ");
        return first != std::string::npos && log.find("pruned ", first + 1) != std::string::npos;
    })) << server->log();
}

TEST(AuditStoreFailureTest, EntriesWaitWhileTheStoreFailsAndAreWrittenOnceItWorks) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  pairing: { listener: pairing }\n"));
    ASSERT_TRUE(server.waitReady(ports.admin)) << server.log();
    std::string db = dir.path() + "/var/switchboard.db";
    executeOnDatabase(db, "ALTER TABLE audit_log RENAME TO audit_log_away");
    ASSERT_EQ(admin("POST", ports.admin, "/admin/api/reload").status, 200);
    HttpResult refused = admin("GET", ports.admin, "/admin/api/audit");
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.body, "{\"error\":\"cannot read the audit log\"}");
    EXPECT_EQ(refused.header("Retry-After"), "1");
    const std::string errors = "switchboard_audit_entries_total{kind=\"write_errors\"} ";
    ASSERT_TRUE(eventually([&] {
        std::string metrics = admin("GET", ports.admin, "/metrics").body;
        std::size_t at = metrics.find(errors);
        return at != std::string::npos && metrics.compare(at + errors.size(), 2, "0\n") != 0;
    }));
    std::string metrics = admin("GET", ports.admin, "/metrics").body;
    EXPECT_NE(metrics.find("switchboard_audit_entries_total{kind=\"dropped\"} 0\n"),
              std::string::npos)
        << metrics;
    // Retried once a round (not in a loop): a few errors logged in these seconds, not thousands.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::string log = server.log();
    std::size_t failures = 0;
    for (std::size_t at = log.find("audit entries failed"); at != std::string::npos;
         at = log.find("audit entries failed", at + 1)) {
        ++failures;
    }
    EXPECT_LE(failures, 6u) << log;
    executeOnDatabase(db, "ALTER TABLE audit_log_away RENAME TO audit_log");
    EXPECT_TRUE(eventually([&] {
        return admin("GET", ports.admin, "/admin/api/audit?action=reload.applied")
                   .body.find("\"total\":1,") != std::string::npos;
    }));
}

}  // namespace
