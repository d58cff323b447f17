// Plugin loading against broken fixture plugins: each is reported with its reason; required
// makes it fatal, required: false starts the rest.
#include <gtest/gtest.h>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

RunResult check(const std::string& plugins) {
    TempDir dir;
    Ports ports;
    dir.write("c.yaml", configYaml(dir, ports, plugins));
    return runSwitchboard({"--check-config", "--config=c.yaml"}, dir.path());
}

/// The output of a check that must fail (a non-zero exit, or the test fails).
std::string checkOutput(const std::string& plugins) {
    RunResult r = check(plugins);
    EXPECT_NE(r.exitCode, 0) << r.output;
    return r.output;
}
}  // namespace

TEST(LoaderTest, AGoodPluginChecksClean) {
    RunResult r = check("  pairing: { listener: pairing }\n");
    EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST(LoaderTest, NotAPlugin) {
    EXPECT_TRUE(contains(checkOutput("  noabi: {}\n"),
                         "switchboard-noabi.so is not a Switchboard plugin (no ABI symbols"));
}

TEST(LoaderTest, WrongAbi) {
    EXPECT_TRUE(
        contains(checkOutput("  badabi: {}\n"),
                 "switchboard-badabi.so was built for plugin ABI 999, this host needs ABI 6"));
}

TEST(LoaderTest, NoManifest) {
    std::string out = checkOutput("  nomanifest: {}\n");
    EXPECT_TRUE(contains(out, "plugins.nomanifest: ")) << out;
    EXPECT_TRUE(contains(out, "manifest")) << out;
}

TEST(LoaderTest, ThrowInStartIsFatalWhenRequired) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  testkit: { fail_start: true }\n"));
    EXPECT_NE(server.wait(std::chrono::seconds(20)), 0);
    EXPECT_TRUE(contains(server.log(), "plugin testkit: start failed: testkit refuses to start"))
        << server.log();
    EXPECT_EQ(http("GET", ports.pub, "/healthz").status, 0);
}

TEST(LoaderTest, OptionalFailuresAreContained) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports,
                                         "  testkit: { fail_start: true, required: false }\n"
                                         "  badabi: { required: false }\n"
                                         "  pairing: { listener: pairing }\n"));
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    HttpResult plugins = http("GET", ports.admin, "/admin/api/plugins", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    ASSERT_EQ(plugins.status, 200);
    EXPECT_TRUE(
        contains(plugins.body, "{\"name\":\"testkit\",\"state\":\"failed\",\"required\":false"))
        << plugins.body;
    EXPECT_TRUE(contains(plugins.body, "start failed: testkit refuses to start")) << plugins.body;
    EXPECT_TRUE(contains(plugins.body, "{\"name\":\"badabi\",\"state\":\"failed\""))
        << plugins.body;
    EXPECT_TRUE(contains(plugins.body, "{\"name\":\"pairing\",\"state\":\"running\""))
        << plugins.body;
    // The failed plugin's routes are not mounted; the others serve.
    EXPECT_EQ(http("GET", ports.pub, "/testkit/greeting").status, 404);
    EXPECT_EQ(http("POST", ports.pairing, "/server_status", "{}").status, 400);
}

TEST(LoaderTest, DisabledPluginIsNotLoadedOrMounted) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  testkit: { enabled: false }\n"));
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    EXPECT_EQ(http("GET", ports.pub, "/testkit/greeting").status, 404);
}

TEST(LoaderTest, RouteConflictNamesBoth) {
    TempDir dir;
    Ports ports;
    dir.write("c.yaml",
              configYaml(dir, ports,
                         "  pairing: { listener: pairing }\n"
                         "  testkit: { listener: pairing, extra_route: /register_server }\n"));
    RunResult r = runSwitchboard({"--check-config", "--config=c.yaml"}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output,
                         "c.yaml: pairing: POST /register_server is mounted by both "
                         "pairing and testkit"))
        << r.output;
}
