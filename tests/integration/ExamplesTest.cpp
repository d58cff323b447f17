// The client examples in examples/, run as their users run them, against the real binary on the
// default config (etc/switchboard.yaml with loopback test ports), so they cannot rot.
#include <gtest/gtest.h>

#include <Poco/File.h>

#include <future>
#include <regex>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

const std::string kExamples = std::string(SB_SOURCE_DIR) + "/examples/";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

/// `text` with its one occurrence of `from` replaced by `to` (a test failure if it is missing:
/// the default config changed shape and this test must follow it).
std::string replaceOnce(std::string text, const std::string& from, const std::string& to) {
    std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << "etc/switchboard.yaml has no '" << from << "'";
    if (at != std::string::npos) {
        text.replace(at, from.size(), to);
    }
    return text;
}

/// The server on a copy of the default config: every listener on 127.0.0.1 and a test port,
/// its relative var/ paths inside a temporary directory, and the seed's echo callback
/// (plugins/auth/hooks/on_communicate.lua) loaded for the ServerAPI example.
class ExamplesTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new TempDir;
        ports = new Ports;
        std::string yaml = readFile(std::string(SB_SOURCE_DIR) + "/etc/switchboard.yaml");
        auto listen = [](int port) { return "bind: 127.0.0.1, port: " + std::to_string(port); };
        yaml = replaceOnce(yaml, "port: 8000", listen(ports->pub));
        yaml = replaceOnce(yaml, "port: 3555", listen(ports->pairing));
        yaml = replaceOnce(yaml, "port: 7777", listen(ports->chat));
        yaml = replaceOnce(yaml, "bind: 127.0.0.1, port: 9000", listen(ports->admin));
        yaml = replaceOnce(
            yaml, "scripts: []",
            "scripts: [" + std::string(SB_SOURCE_DIR) + "/plugins/auth/hooks/on_communicate.lua]");
        server = new ServerProcess(*dir, yaml);
        ASSERT_TRUE(server->waitReady(ports->pub)) << server->log();
        adminToken = readFile(dir->file("var/admin-token"));
        adminToken.erase(adminToken.find_last_not_of(" \n") + 1);
        ASSERT_FALSE(adminToken.empty());
    }
    static void TearDownTestSuite() {
        delete server;
        delete ports;
        delete dir;
    }
    void TearDown() override {
        if (HasFailure()) {
            ADD_FAILURE() << "server log:\n" << server->log();
        }
    }

    static RunResult run(std::vector<std::string> argv) {
        return runCommand(argv, dir->path(), std::chrono::seconds(30));
    }
    static std::string url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

    static TempDir* dir;
    static Ports* ports;
    static ServerProcess* server;
    static std::string adminToken;
};

TempDir* ExamplesTest::dir = nullptr;
Ports* ExamplesTest::ports = nullptr;
ServerProcess* ExamplesTest::server = nullptr;
std::string ExamplesTest::adminToken;

}  // namespace

TEST_F(ExamplesTest, PairingWithCurl) {
    RunResult r = run({"/bin/bash", kExamples + "pairing.sh", url(ports->pairing)});
    ASSERT_EQ(r.exitCode, 0) << r.output;
    std::smatch code;
    ASSERT_TRUE(std::regex_search(r.output, code, std::regex("\"pairing_code\":([0-9]{4})")))
        << r.output;
    EXPECT_TRUE(contains(r.output, "\"online\":true,\"last_heartbeat\":")) << r.output;
    EXPECT_TRUE(contains(r.output, "get_server_details for " + code[1].str())) << r.output;
    EXPECT_TRUE(contains(r.output,
                         "\"ssh_user\":\"tunnel\",\"ssh_tunnel\":3522,"
                         "\"listen_pubkey_tunnel\":3533"))
        << r.output;
}

TEST_F(ExamplesTest, PairingWithPythonRequests) {
    RunResult r = run({"/usr/bin/python3", kExamples + "pairing_client.py", "--url",
                       url(ports->pairing), "--heartbeats", "2", "--interval", "0.1", "server"});
    ASSERT_EQ(r.exitCode, 0) << r.output;
    std::smatch code;
    ASSERT_TRUE(std::regex_search(r.output, code, std::regex("pairing_code: ([0-9]{4})")))
        << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 5) << r.output;
    EXPECT_TRUE(contains(r.output, "heartbeat: online=True")) << r.output;
    EXPECT_TRUE(contains(r.output, "status: {'online': True")) << r.output;

    RunResult client = run({"/usr/bin/python3", kExamples + "pairing_client.py", "--url",
                            url(ports->pairing), "client", code[1].str()});
    ASSERT_EQ(client.exitCode, 0) << client.output;
    EXPECT_TRUE(contains(client.output, "'ssh_user': 'tunnel', 'ssh_tunnel': 3522"))
        << client.output;
    RunResult unknown = run({"/usr/bin/python3", kExamples + "pairing_client.py", "--url",
                             url(ports->pairing), "client", code[1] == "1000" ? "1001" : "1000"});
    EXPECT_NE(unknown.exitCode, 0) << unknown.output;
    EXPECT_TRUE(contains(unknown.output, ": Invalid pairing code")) << unknown.output;
}

TEST_F(ExamplesTest, MeetingDeviceRegistersAndSendsHeartbeats) {
    HttpResult created =
        http("POST", ports->admin, "/admin/api/devices", "{\"device_key\":\"meeting-room-4\"}",
             {{"Authorization", "Bearer " + adminToken}});
    ASSERT_EQ(created.status, 201) << created.body;
    std::smatch token;
    ASSERT_TRUE(
        std::regex_search(created.body, token, std::regex("\"token_code\":\"([0-9A-F]{6})\"")));
    std::string state = dir->file("device_info.json");
    std::string lower = token[1].str();
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::vector<std::string> base{"/usr/bin/python3",
                                  kExamples + "meeting_device.py",
                                  "--url",
                                  url(ports->pub),
                                  "--state",
                                  state};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> argv = base;
        argv.insert(argv.end(), more.begin(), more.end());
        return argv;
    };

    RunResult reg = run(with({"register", "meeting-room-4", lower}));
    ASSERT_EQ(reg.exitCode, 0) << reg.output;
    EXPECT_TRUE(contains(reg.output, "register: 200 {\"ok\": true")) << reg.output;
    EXPECT_TRUE(contains(reg.output, "ssh-hostkey: ssh-ed25519 AAAA")) << reg.output;
    EXPECT_TRUE(contains(reg.output, "ssh-key: 200 {\"ok\": true")) << reg.output;
    EXPECT_TRUE(contains(readFile(state), "\"device_key\": \"meeting-room-4\""));
    // Registered now: the same registration again is the seed's 409.
    RunResult again = run(with({"register", "meeting-room-4", lower}));
    EXPECT_EQ(again.exitCode, 1) << again.output;
    EXPECT_TRUE(contains(again.output,
                         "register: 409 {\"ok\": false, \"message\": \"Already registered\"}"))
        << again.output;

    RunResult beats = run(with({"heartbeat", "--count", "3", "--interval", "0.1"}));
    ASSERT_EQ(beats.exitCode, 0) << beats.output;
    std::size_t ok = 0;
    for (std::size_t at = 0;
         (at = beats.output.find("heartbeat: 200 {\"ok\": true", at)) != std::string::npos; ++at) {
        ++ok;
    }
    EXPECT_EQ(ok, 3u) << beats.output;

    RunResult info = run(with({"info"}));
    ASSERT_EQ(info.exitCode, 0) << info.output;
    EXPECT_TRUE(contains(info.output, "\"ip_address\": \"127.0.0.1\"")) << info.output;
    EXPECT_TRUE(contains(info.output, "\"note\": \"Updates Manager Tool\"")) << info.output;
    EXPECT_TRUE(contains(info.output, "\"online\": true")) << info.output;
    EXPECT_TRUE(contains(info.output, "\"registered\": true")) << info.output;
    EXPECT_TRUE(contains(info.output, "\"ssh_pubkey\": \"ssh-ed25519 AAAAC3Nza")) << info.output;
}

TEST_F(ExamplesTest, SignalingJavaScriptAndPythonClientsSignalEachOther) {
    ASSERT_TRUE(Poco::File(kExamples + "node_modules/ws/package.json").exists())
        << "examples/node_modules is missing: scripts/setup installs it (npm ci)";
    auto vars = [](const std::string& out) {
        std::map<std::string, std::string> v;
        std::smatch m;
        std::string rest = out;
        while (std::regex_search(rest, m, std::regex("([A-Z_]+)=([^\n]*)\n"))) {
            v[m[1]] = m[2];
            rest = m.suffix();
        }
        return v;
    };
    RunResult alice = run({"/bin/bash", kExamples + "signaling_setup.sh", "alice@example.com",
                           "password123", "", url(ports->pub)});
    ASSERT_EQ(alice.exitCode, 0) << alice.output;
    auto a = vars(alice.output);
    EXPECT_EQ(a["VIRTUAL_IP"], "10.0.0.1") << alice.output;
    RunResult bob = run({"/bin/bash", kExamples + "signaling_setup.sh", "bob@example.com",
                         "password123", a["ORG_ID"], url(ports->pub)});
    ASSERT_EQ(bob.exitCode, 0) << bob.output;
    auto b = vars(bob.output);
    EXPECT_EQ(b["VIRTUAL_IP"], "10.0.0.2") << bob.output;
    ASSERT_FALSE(a["TOKEN"].empty());
    ASSERT_FALSE(b["TOKEN"].empty());

    std::string ws = "ws://127.0.0.1:" + std::to_string(ports->pub) + "/ws";
    // Each waits for the other's hello, in whichever order they register.
    auto js = std::async(std::launch::async, [&] {
        return run({"/usr/bin/node", kExamples + "signaling_client.js", "--url", ws, "--token",
                    a["TOKEN"], "--agent-id", "js-agent", "--until-signals", "1", "--timeout",
                    "20"});
    });
    RunResult py =
        run({"/usr/bin/python3", kExamples + "signaling_client.py", "--url", ws, "--token",
             b["TOKEN"], "--agent-id", "py-agent", "--until-signals", "1", "--timeout", "20"});
    RunResult node = js.get();
    ASSERT_EQ(node.exitCode, 0) << node.output;
    ASSERT_EQ(py.exitCode, 0) << py.output;
    EXPECT_TRUE(contains(node.output, "Registered successfully!\nVirtual IP: 10.0.0.1"))
        << node.output;
    EXPECT_TRUE(contains(node.output,
                         "Signal from py-agent {\"hello\":\"py-agent\","
                         "\"kind\":\"answer\"}"))
        << node.output;
    EXPECT_TRUE(contains(py.output, "Registered! Virtual IP: 10.0.0.2")) << py.output;
    EXPECT_TRUE(
        contains(py.output, "Signal from js-agent: {\"hello\": \"js-agent\", \"kind\": \"offer\"}"))
        << py.output;
}

TEST_F(ExamplesTest, ServerApiSessionWithCurlCookieJar) {
    ASSERT_EQ(http("POST", ports->pub, "/register",
                   "{\"email\":\"carol@example.com\",\"password\":\"password123\","
                   "\"username\":\"carol\"}")
                  .status,
              201);
    RunResult r = run(
        {"/bin/bash", kExamples + "serverapi_session.sh", "carol", "password123", url(ports->pub)});
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "\"message\":\"Login successful.\"")) << r.output;
    EXPECT_TRUE(contains(r.output, "communicate:\n{\"echo\":\"hello from curl\"}")) << r.output;
    EXPECT_TRUE(contains(r.output, "logout:\n{\"message\":\"Logout successful.\"}")) << r.output;
    EXPECT_TRUE(contains(r.output,
                         "communicate after logout:\n"
                         "{\"error\":\"Invalid session token.\"} (HTTP 401)"))
        << r.output;
}

TEST_F(ExamplesTest, ChatClientRegistersSendsAndReadsHistory) {
    auto chat = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{"/usr/bin/python3", kExamples + "chat_client.py",
                                      "--host",           "127.0.0.1",
                                      "--port",           std::to_string(ports->chat)};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv);
    };
    RunResult dave = chat({"register", "dave", "password123", "dave@example.com"});
    ASSERT_EQ(dave.exitCode, 0) << dave.output;
    EXPECT_EQ(dave.output, "ACK {}\n");
    ASSERT_EQ(chat({"register", "erin", "password123", "erin@example.com"}).output, "ACK {}\n");
    RunResult taken = chat({"register", "erin", "password123", "erin2@example.com"});
    EXPECT_TRUE(contains(taken.output, "ERR {")) << taken.output;

    RunResult sent = chat({"send", "dave", "password123", "erin", "hello erin"});
    ASSERT_EQ(sent.exitCode, 0) << sent.output;
    EXPECT_TRUE(contains(sent.output, "users: ")) << sent.output;
    EXPECT_TRUE(contains(sent.output, "erin")) << sent.output;
    EXPECT_TRUE(contains(sent.output, "\nACK {")) << sent.output;

    // erin was offline: the message waits for her login, and is in the history.
    RunResult history = chat({"history", "erin", "password123", "dave"});
    ASSERT_EQ(history.exitCode, 0) << history.output;
    EXPECT_TRUE(contains(history.output,
                         "MSG {\"sender\": \"dave\", \"reciever\": \"erin\", "
                         "\"msg\": \"hello erin\""))
        << history.output;
    EXPECT_TRUE(contains(history.output, "HIS {\"history\": [{\"sender\": \"dave\""))
        << history.output;
}
