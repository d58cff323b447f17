// `switchboard ctl`: the operator CLI run as a subprocess of the real binary against a real
// server: tables and --json, where the URL and the token come from, and the exit codes
// (0 ok, 2 usage, 3 unreachable, 4 refused, 5 not found).
#include <gtest/gtest.h>

#include <Poco/File.h>

#include <chrono>
#include <future>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

const char* kPlugins =
    "  auth: { listener: public, jwt: { secret: \"0123456789abcdef0123456789abcdef\" }, "
    "password_hash: { memory: 8MiB, passes: 1 } }\n"
    "  devices: { listener: public }\n"
    "  pairing: { listener: pairing }\n"
    "  signaling: { listener: public }\n";

class ControlCliTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        server = new ServerProcess(*dir, configYaml(*dir, *ports, kPlugins));
        ready = server->waitReady(ports->admin);
    }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }
    void SetUp() override { ASSERT_TRUE(ready) << server->log(); }

    /// `switchboard ctl <args>` with the URL and token given as options.
    static RunResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv{SB_BINARY, "ctl",
                                      "--url",   "http://127.0.0.1:" + std::to_string(ports->admin),
                                      "--token", kAdminToken};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, dir->path());
    }
    static std::string url() { return "http://127.0.0.1:" + std::to_string(ports->admin); }

    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
    static bool ready;
};

TempDir* ControlCliTest::dir = nullptr;
Ports* ControlCliTest::ports = nullptr;
ServerProcess* ControlCliTest::server = nullptr;
bool ControlCliTest::ready = false;

TEST_F(ControlCliTest, UsageErrorsExitWith2) {
    RunResult none = runCommand({SB_BINARY, "ctl"}, dir->path());
    EXPECT_EQ(none.exitCode, 2);
    EXPECT_TRUE(contains(none.output, "usage: switchboard ctl [options] <noun> <verb>"));
    RunResult unknown = ctl({"devices", "explode"});
    EXPECT_EQ(unknown.exitCode, 2);
    EXPECT_TRUE(contains(unknown.output, "switchboard ctl: unknown command 'devices explode'"))
        << unknown.output;
    RunResult option = ctl({"--frobnicate", "status"});
    EXPECT_EQ(option.exitCode, 2);
    EXPECT_TRUE(contains(option.output, "unknown option --frobnicate")) << option.output;
    RunResult arity = ctl({"devices", "revoke"});
    EXPECT_EQ(arity.exitCode, 2);
    EXPECT_TRUE(contains(arity.output, "usage: switchboard ctl devices revoke KEY"))
        << arity.output;
    RunResult https =
        runCommand({SB_BINARY, "ctl", "--url", "https://127.0.0.1:1", "status"}, dir->path());
    EXPECT_EQ(https.exitCode, 2);
    EXPECT_TRUE(contains(https.output, "expected http://host:port")) << https.output;
    RunResult help = runCommand({SB_BINARY, "ctl", "--help"}, dir->path());
    EXPECT_EQ(help.exitCode, 0);
    EXPECT_TRUE(contains(help.output, "exit codes: 0 ok"));
}

TEST_F(ControlCliTest, UnreachableExitsWith3AndAWrongTokenWith4) {
    int closed = freePort();
    RunResult r =
        runCommand({SB_BINARY, "ctl", "--url", "http://127.0.0.1:" + std::to_string(closed),
                    "--token", "x", "plugins", "list"},
                   dir->path());
    EXPECT_EQ(r.exitCode, 3) << r.output;
    EXPECT_TRUE(contains(r.output,
                         "switchboard ctl: cannot reach the admin API at "
                         "http://127.0.0.1:" +
                             std::to_string(closed) + ": "))
        << r.output;
    RunResult wrong = runCommand(
        {SB_BINARY, "ctl", "--url", url(), "--token", "wrong", "plugins", "list"}, dir->path());
    EXPECT_EQ(wrong.exitCode, 4) << wrong.output;
    EXPECT_TRUE(contains(wrong.output,
                         "switchboard ctl: GET /admin/api/plugins: 401 admin token "
                         "required"))
        << wrong.output;
}

TEST_F(ControlCliTest, TokenAndUrlFromTheEnvironmentTheConfigAndTheTokenFile) {
    // A config naming the admin listener and a data_dir whose admin-token the server wrote.
    std::string data = dir->path() + "/ctl-data";
    Poco::File(data).createDirectories();
    dir->write("ctl-data/admin-token", std::string(kAdminToken) + "\n");
    dir->write("ctl.yaml", "server: { data_dir: " + data +
                               " }\nlisteners:\n  admin: { bind: 127.0.0.1, port: " +
                               std::to_string(ports->admin) + " }\n");
    RunResult file =
        runCommand({SB_BINARY, "ctl", "--config", "ctl.yaml", "plugins", "list"}, dir->path());
    EXPECT_EQ(file.exitCode, 0) << file.output;
    EXPECT_TRUE(contains(file.output, "pairing")) << file.output;
    RunResult env =
        runCommand({"/usr/bin/env", std::string("SWITCHBOARD_ADMIN_TOKEN=") + kAdminToken,
                    SB_BINARY, "ctl", "--url", url(), "plugins", "list"},
                   dir->path());
    EXPECT_EQ(env.exitCode, 0) << env.output;
    // The config's own admin.token (the test server's config sets one).
    RunResult config = runCommand(
        {SB_BINARY, "ctl", "--config", dir->file("switchboard.yaml"), "status"}, dir->path());
    EXPECT_EQ(config.exitCode, 0) << config.output;
    EXPECT_TRUE(contains(config.output, "server  " + url() + "  ready")) << config.output;
    RunResult missing =
        runCommand({SB_BINARY, "ctl", "--config", "nope.yaml", "status"}, dir->path());
    EXPECT_EQ(missing.exitCode, 2);
    EXPECT_TRUE(contains(missing.output, "--config nope.yaml: no such file")) << missing.output;
}

TEST_F(ControlCliTest, PluginsListEnableDisableResetAndReload) {
    RunResult list = ctl({"plugins", "list"});
    ASSERT_EQ(list.exitCode, 0) << list.output;
    EXPECT_TRUE(std::regex_search(
        list.output, std::regex("^NAME +STATE +OVERRIDE +REQUIRED +LISTENER +ERROR\n")))
        << list.output;
    EXPECT_TRUE(std::regex_search(list.output, std::regex("\npairing +running +- +yes +pairing\n")))
        << list.output;
    RunResult json = ctl({"--json", "plugins", "list"});
    EXPECT_EQ(json.exitCode, 0);
    EXPECT_EQ(json.output.rfind("{\"plugins\":[{\"name\":\"auth\",\"state\":\"running\"", 0), 0u)
        << json.output;

    RunResult off = ctl({"plugins", "disable", "pairing"});
    EXPECT_EQ(off.exitCode, 0) << off.output;
    EXPECT_TRUE(std::regex_search(off.output, std::regex("plugin.state +disabled\n")))
        << off.output;
    EXPECT_TRUE(std::regex_search(ctl({"plugins", "list"}).output,
                                  std::regex("\npairing +disabled +disabled +yes")));
    RunResult refused = ctl({"plugins", "disable", "auth"});
    EXPECT_EQ(refused.exitCode, 4) << refused.output;
    EXPECT_TRUE(contains(refused.output,
                         "switchboard ctl: POST /admin/api/plugins/auth/disable: 409 cannot "
                         "disable plugin auth"))
        << refused.output;
    EXPECT_TRUE(contains(refused.output, "requires plugin 'auth', which is not enabled"));
    RunResult unknown = ctl({"plugins", "enable", "nosuch"});
    EXPECT_EQ(unknown.exitCode, 5) << unknown.output;
    RunResult reset = ctl({"plugins", "reset", "pairing"});
    EXPECT_EQ(reset.exitCode, 0) << reset.output;
    EXPECT_TRUE(std::regex_search(reset.output, std::regex("plugin.override +-\n")))
        << reset.output;

    RunResult reload = ctl({"reload"});
    EXPECT_EQ(reload.exitCode, 0) << reload.output;
    EXPECT_EQ(reload.output, "reloaded  yes\n");
    RunResult status = ctl({"status"});
    EXPECT_EQ(status.exitCode, 0);
    EXPECT_TRUE(std::regex_search(status.output, std::regex("\nsignaling +running +- +public")))
        << status.output;
}

TEST_F(ControlCliTest, DevicesEnrolListTokenRevoke) {
    RunResult enrol = ctl({"devices", "enrol", "--key", "cli-device", "--note", "rack 4"});
    ASSERT_EQ(enrol.exitCode, 0) << enrol.output;
    std::smatch code;
    ASSERT_TRUE(std::regex_search(enrol.output, code, std::regex("token_code +([0-9A-F]{6})\n")))
        << enrol.output;
    EXPECT_TRUE(std::regex_search(enrol.output, std::regex("device_key +cli-device\n")));
    EXPECT_EQ(ctl({"devices", "enrol", "--key", "cli-device"}).exitCode, 4);  // 409

    RunResult list = ctl({"devices", "list"});
    EXPECT_EQ(list.exitCode, 0);
    EXPECT_TRUE(std::regex_search(list.output,
                                  std::regex("^DEVICE KEY +REGISTERED +ONLINE +LAST SEEN +NOTE\n")))
        << list.output;
    EXPECT_TRUE(std::regex_search(list.output, std::regex("\ncli-device +no +no +- +rack 4\n")))
        << list.output;
    RunResult token = ctl({"devices", "token", "cli-device"});
    EXPECT_EQ(token.exitCode, 0) << token.output;
    EXPECT_FALSE(contains(token.output, code[1].str()));
    EXPECT_EQ(ctl({"devices", "token", "nosuch"}).exitCode, 5);
    RunResult revoke = ctl({"devices", "revoke", "cli-device"});
    EXPECT_EQ(revoke.exitCode, 0) << revoke.output;
    EXPECT_TRUE(contains(revoke.output, "revoked     yes")) << revoke.output;
    RunResult gone = ctl({"devices", "revoke", "nosuch"});
    EXPECT_EQ(gone.exitCode, 5);
    EXPECT_TRUE(contains(gone.output, "DELETE /admin/api/devices/nosuch: 404 device not found"))
        << gone.output;
}

TEST_F(ControlCliTest, UsersSessionsServersPeersAndAudit) {
    HttpResult reg =
        http("POST", ports->pub, "/register",
             R"({"email":"cli@example.com","password":"password123","username":"cli"})");
    ASSERT_EQ(reg.status, 201);
    std::string id = reg.body.substr(6, reg.body.find(',') - 6);
    ASSERT_EQ(
        http("POST", ports->pub, "/login", R"({"username":"cli","password":"password123"})").status,
        200);
    RunResult users = ctl({"users", "list"});
    EXPECT_EQ(users.exitCode, 0);
    EXPECT_TRUE(std::regex_search(users.output,
                                  std::regex("\n" + id + " +cli +cli@example.com +registered ")))
        << users.output;
    RunResult sessions = ctl({"sessions", "list", "--user", id});
    EXPECT_EQ(sessions.exitCode, 0);
    std::smatch session;
    ASSERT_TRUE(
        std::regex_search(sessions.output, session, std::regex("\n([^ ]+) +" + id + " +cli ")))
        << sessions.output;
    EXPECT_EQ(ctl({"sessions", "revoke", session[1].str()}).exitCode, 0);
    EXPECT_EQ(ctl({"sessions", "revoke", session[1].str()}).exitCode, 5);
    EXPECT_EQ(ctl({"users", "delete", id}).exitCode, 0);
    RunResult again = ctl({"users", "delete", id});
    EXPECT_EQ(again.exitCode, 5);
    EXPECT_TRUE(contains(again.output, "404 Account not found")) << again.output;
    EXPECT_EQ(ctl({"users", "delete", "x"}).exitCode, 4);

    ASSERT_EQ(http("POST", ports->pairing, "/register_server",
                   R"({"ssh_pubkey":"cli-key","ssh_user":"u","ssh_tunnel":1,)"
                   R"("listen_pubkey_tunnel":2})")
                  .status,
              200);
    RunResult servers = ctl({"servers", "list"});
    EXPECT_EQ(servers.exitCode, 0) << servers.output;
    EXPECT_TRUE(contains(servers.output, "cli-key")) << servers.output;
    EXPECT_EQ(ctl({"peers", "list"}).exitCode, 0);
    EXPECT_EQ(ctl({"peers", "kick", "1", "nobody"}).exitCode, 5);

    RunResult audit = ctl({"audit", "list", "--action", "user.deleted"});
    EXPECT_EQ(audit.exitCode, 0);
    EXPECT_TRUE(std::regex_search(
        audit.output,
        std::regex("^ID +TIME +ACTOR +ADDRESS +ACTION +DETAIL\n[0-9]+ +20[0-9-]+ [0-9:]+Z +admin "
                   "+127.0.0.1 +user.deleted +\\{\"user_id\":" +
                   id + ",\"username\":\"cli\"\\}\n")))
        << audit.output;
    RunResult page = ctl({"--json", "audit", "list", "--limit", "1"});
    EXPECT_TRUE(contains(page.output, "\"limit\":1,\"offset\":0}")) << page.output;
    EXPECT_EQ(ctl({"audit", "list", "--limit", "0"}).exitCode, 4);
}

TEST_F(ControlCliTest, EventsTailPrintsMatchingEvents) {
    auto tail = std::async(std::launch::async, [] {
        return ctl({"events", "tail", "--topic", "server.*", "--count", "1"});
    });
    // The subscription starts when the CLI connects: publish until it has seen one.
    int n = 0;
    while (tail.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready && n < 75) {
        http("POST", ports->pairing, "/register_server",
             "{\"ssh_pubkey\":\"tail-" + std::to_string(n++) +
                 "\",\"ssh_user\":\"u\",\"ssh_tunnel\":1,\"listen_pubkey_tunnel\":2}");
    }
    RunResult r = tail.get();
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(std::regex_search(r.output, std::regex("^server.online  \\{.*\"tail-[0-9]+\"")))
        << r.output;
}

}  // namespace
