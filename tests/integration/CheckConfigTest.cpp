// --check-config and --help against the real binary: exact messages, every problem at once,
// non-zero exit, nothing listening.
#include <gtest/gtest.h>
#include <signal.h>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}
}  // namespace

TEST(CheckConfigTest, ValidConfigPasses) {
    TempDir dir;
    Ports ports;
    dir.write("ok.yaml", configYaml(dir, ports, "  pairing: { listener: pairing }\n"));
    RunResult r = runSwitchboard({"--check-config", "--config=ok.yaml"}, dir.path());
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "ok.yaml: configuration OK")) << r.output;
}

TEST(CheckConfigTest, DefaultConfigIsValid) {
    RunResult r =
        runSwitchboard({"--check-config", "--config=etc/switchboard.yaml"}, SB_SOURCE_DIR);
    EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST(CheckConfigTest, ReportsEveryProblemWithFileLineAndKey) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports,
                                  "  pairing:\n"
                                  "    listener: pairing\n"
                                  "    offline_after: soon\n"
                                  "    colour: blue\n",
                                  "bus: { queue_size: lots }\n");
    dir.write("bad.yaml", yaml);
    RunResult r = runSwitchboard({"--check-config", "--config=bad.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    // Line numbers: count the lines of the generated file to find each key.
    auto lineOf = [&](const std::string& text) {
        std::size_t pos = yaml.find(text);
        return std::to_string(
            std::count(yaml.begin(), yaml.begin() + static_cast<long>(pos), '\n') + 1);
    };
    EXPECT_TRUE(
        contains(r.output, "bad.yaml:" + lineOf("offline_after") +
                               ": plugins.pairing.offline_after: expected a duration like 90s"))
        << r.output;
    EXPECT_TRUE(contains(r.output,
                         "bad.yaml:" + lineOf("colour") + ": plugins.pairing.colour: unknown key"))
        << r.output;
    EXPECT_TRUE(contains(
        r.output, "bad.yaml:" + lineOf("queue_size") + ": bus.queue_size: expected an integer"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "bad.yaml: 3 problems")) << r.output;
}

TEST(CheckConfigTest, EveryProblemOfHostAndPluginsInOneRun) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports,
                                  "  auth:\n"
                                  "    listener: public\n"
                                  "    jwt: { ttl: 0s }\n"
                                  "    password_hash: { memory: 1KiB }\n"
                                  "    smtp: { from: nobody }\n"
                                  "    credentials: { \"a@b\": password123, alice: \"\" }\n"
                                  "  pairing:\n"
                                  "    listener: pairing\n"
                                  "    offline_after: 0s\n",
                                  "bus: { queue_size: 1 }\n");
    const std::string flush = "flush_interval: 200ms";
    ASSERT_NE(yaml.find(flush), std::string::npos);
    yaml.replace(yaml.find(flush), flush.size(), "flush_interval: 0s");
    dir.write("bad.yaml", yaml);
    auto lineOf = [&](const std::string& text) {
        std::size_t pos = yaml.find(text);
        return static_cast<int>(
                   std::count(yaml.begin(), yaml.begin() + static_cast<long>(pos), '\n')) +
               1;
    };
    const int plugins = lineOf("plugins:");
    const std::vector<std::pair<int, std::string>> expected = {
        {lineOf("store:"), "store.flush_interval: must be at least 1ms"},
        {lineOf("bus:"), "bus.queue_size: must be between 16 and 10000000"},
        // Two schema problems and two kinds of configure() checks in one plugin section...
        {plugins + 3, "plugins.auth.jwt.ttl: must be at least 1ms"},
        {plugins + 4, "plugins.auth.password_hash.memory: must be between 8KiB and 4GiB"},
        {plugins + 6, "plugins.auth.credentials: 'a@b': username must not contain '@'"},
        {plugins + 6, "plugins.auth.credentials: 'alice': empty password"},
        {plugins + 5, "plugins.auth.smtp.from: expected an email address"},
        // ...and one in another plugin.
        {plugins + 9, "plugins.pairing.offline_after: must be at least 1ms"},
    };
    RunResult check = runSwitchboard({"--check-config", "--config=bad.yaml"}, dir.path());
    EXPECT_NE(check.exitCode, 0);
    for (const auto& [line, message] : expected) {
        std::string full = "bad.yaml:" + std::to_string(line) + ": " + message;
        EXPECT_TRUE(contains(check.output, full)) << full << "\n" << check.output;
    }
    EXPECT_TRUE(contains(check.output, "bad.yaml: 8 problems")) << check.output;
    // Starting with the same file reports the same problems and opens no port.
    ServerProcess start(dir, yaml);
    EXPECT_NE(start.wait(std::chrono::seconds(20)), 0);
    for (const auto& [line, message] : expected) {
        std::string full =
            dir.file("switchboard.yaml") + ":" + std::to_string(line) + ": " + message;
        EXPECT_TRUE(contains(start.log(), full)) << full << "\n" << start.log();
    }
    EXPECT_EQ(http("GET", ports.pairing, "/healthz").status, 0);
}

TEST(CheckConfigTest, UnknownListenerAndMissingPluginAreErrors) {
    TempDir dir;
    Ports ports;
    dir.write("bad.yaml", configYaml(dir, ports,
                                     "  pairing: { listener: nowhere }\n"
                                     "  teleport: { speed: 3 }\n"));
    RunResult r = runSwitchboard({"--check-config", "--config=bad.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output, "plugins.pairing.listener: no listener named 'nowhere'"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "plugins.teleport: switchboard-teleport.so not found"))
        << r.output;
}

TEST(CheckConfigTest, OptionalMissingPluginIsOnlyAWarning) {
    TempDir dir;
    Ports ports;
    dir.write("c.yaml", configYaml(dir, ports, "  teleport: { required: false }\n"));
    RunResult r = runSwitchboard({"--check-config", "--config=c.yaml"}, dir.path());
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "warning: plugins.teleport: switchboard-teleport.so not found"))
        << r.output;
}

TEST(CheckConfigTest, EnvironmentExpansion) {
    TempDir dir;
    Ports ports;
    std::string yaml =
        configYaml(dir, ports, "  pairing: { listener: \"${SB_TEST_LISTENER:-pairing}\" }\n");
    dir.write("env.yaml", yaml);
    EXPECT_EQ(runSwitchboard({"--check-config", "--config=env.yaml"}, dir.path()).exitCode, 0);
    dir.write("env2.yaml",
              configYaml(dir, ports, "  pairing: { listener: \"${SB_TEST_UNSET_VAR}\" }\n"));
    RunResult r = runSwitchboard({"--check-config", "--config=env2.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output, "environment variable SB_TEST_UNSET_VAR is not set"))
        << r.output;
}

TEST(CheckConfigTest, SyntaxErrorAndMissingFile) {
    TempDir dir;
    dir.write("broken.yaml", "server:\n  data_dir: [unclosed\n");
    RunResult r = runSwitchboard({"--check-config", "--config=broken.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output, "broken.yaml:")) << r.output;
    r = runSwitchboard({"--check-config", "--config=absent.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output, "absent.yaml: cannot read")) << r.output;
}

TEST(CheckConfigTest, BadConfigOpensNoPort) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  pairing: { offline_after: never }\n"));
    EXPECT_NE(server.wait(std::chrono::seconds(20)), 0);
    EXPECT_EQ(http("GET", ports.pairing, "/healthz").status, 0);
    EXPECT_TRUE(contains(server.log(), "plugins.pairing.offline_after: expected a duration"))
        << server.log();
}

TEST(CheckConfigTest, TrustedProxies) {
    TempDir dir;
    Ports ports;
    std::string base = configYaml(dir, ports, "  pairing: { listener: pairing }\n");
    dir.write("ok.yaml", withServerKeys(base,
                                        "  trusted_proxies: [\"::1\", \"fd00::/8\", 192.0.2.1, "
                                        "10.0.0.0/8]\n"));
    RunResult ok = runSwitchboard({"--check-config", "--config=ok.yaml"}, dir.path());
    EXPECT_EQ(ok.exitCode, 0) << ok.output;
    dir.write("bad.yaml", withServerKeys(base, "  trusted_proxies: [10.0.0.0/33, proxy.local]\n"));
    RunResult bad = runSwitchboard({"--check-config", "--config=bad.yaml"}, dir.path());
    EXPECT_NE(bad.exitCode, 0);
    EXPECT_TRUE(contains(bad.output,
                         "bad.yaml:2: server.trusted_proxies: '10.0.0.0/33': prefix "
                         "longer than the address"))
        << bad.output;
    EXPECT_TRUE(contains(bad.output,
                         "bad.yaml:2: server.trusted_proxies: 'proxy.local' is not an "
                         "IP address or CIDR block"))
        << bad.output;
}

TEST(CheckConfigTest, HelpListsOptions) {
    TempDir dir;
    RunResult r = runSwitchboard({"--help"}, dir.path());
    EXPECT_EQ(r.exitCode, 0);
    for (const char* option : {"--config", "--check-config", "--daemon", "--pidfile"}) {
        EXPECT_TRUE(contains(r.output, option)) << option;
    }
}

TEST(CheckConfigTest, DaemonWithPidfileAndRelativePaths) {
    TempDir dir;
    Ports ports;
    // Relative data dir and store path: must still land in `dir` although --daemon chdirs to /.
    std::string yaml = configYaml(dir, ports, "  pairing: { listener: pairing }\n");
    yaml.replace(yaml.find("data_dir: " + dir.path() + "/var"),
                 std::string("data_dir: " + dir.path() + "/var").size(), "data_dir: rel-var");
    yaml.replace(yaml.find("sqlite:" + dir.path() + "/var/switchboard.db"),
                 std::string("sqlite:" + dir.path() + "/var/switchboard.db").size(),
                 "sqlite:rel-var/db.sqlite");
    yaml.replace(yaml.find("log: { level: information }"),
                 std::string("log: { level: information }").size(),
                 "log: { level: information, format: json, file: rel-var/switchboard.log }");
    dir.write("d.yaml", yaml);
    RunResult r = runSwitchboard({"--config=d.yaml", "--daemon", "--pidfile=" + dir.file("sb.pid")},
                                 dir.path());
    EXPECT_EQ(r.exitCode, 0) << r.output;
    ASSERT_TRUE(eventually([&] { return http("GET", ports.pairing, "/readyz").status == 200; }))
        << readFile(dir.file("rel-var/switchboard.log"));
    std::string pid = readFile(dir.file("sb.pid"));
    ASSERT_FALSE(pid.empty());
    EXPECT_TRUE(eventually([&] { return !readFile(dir.file("rel-var/db.sqlite")).empty(); }));
    // JSON log lines, each naming its logger.
    std::string log = readFile(dir.file("rel-var/switchboard.log"));
    EXPECT_TRUE(contains(log,
                         "\"level\":\"information\",\"logger\":\"switchboard.pairing\","
                         "\"msg\":\"started\""))
        << log;
    ::kill(std::stoi(pid), SIGTERM);
    EXPECT_TRUE(eventually([&] { return http("GET", ports.pairing, "/healthz").status == 0; }));
}
