// Runtime enable/disable (POST /admin/api/plugins/{name}/enable|disable, DELETE .../override):
// kept in <data_dir>/plugin-overrides.yaml, applied on top of the YAML at start and reload,
// shown as "override" in the plugin list, refused with 409 when a dependency would break.
#include <gtest/gtest.h>
#include <signal.h>

#include <Poco/File.h>

#include <map>
#include <memory>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

HttpResult admin(const std::string& method, int port, const std::string& path) {
    return http(method, port, path, "", {{"Authorization", std::string("Bearer ") + kAdminToken}});
}

const char* kPlugins =
    "  auth: { listener: public, jwt: { secret: \"0123456789abcdef0123456789abcdef\" }, "
    "password_hash: { memory: 8MiB, passes: 1 } }\n"
    "  signaling: { listener: public }\n"
    "  pairing: { listener: pairing, enabled: false }\n";

class PluginOverrideTest : public ::testing::Test {
protected:
    void SetUp() override {
        yaml = configYaml(dir, ports, kPlugins);
        start();
    }
    void start() {
        server = std::make_unique<ServerProcess>(dir, yaml);
        ASSERT_TRUE(server->waitReady(ports.admin)) << server->log();
    }
    int organizations() { return http("GET", ports.pub, "/organizations").status; }
    std::string overrideFile() const { return dir.path() + "/var/plugin-overrides.yaml"; }
    std::string plugins() { return admin("GET", ports.admin, "/admin/api/plugins").body; }

    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> server;
};

TEST_F(PluginOverrideTest, DisablePersistsAcrossARestartUntilReset) {
    EXPECT_EQ(organizations(), 401);  // mounted: asks for a token
    EXPECT_TRUE(contains(plugins(), "\"name\":\"signaling\",\"state\":\"running\""));
    EXPECT_TRUE(contains(
        plugins(), "\"library\":\"" SB_PLUGIN_DIR "/switchboard-signaling.so\",\"override\":null}"))
        << plugins();

    HttpResult off = admin("POST", ports.admin, "/admin/api/plugins/signaling/disable");
    EXPECT_EQ(off.status, 200) << off.body;
    EXPECT_TRUE(contains(off.body, "{\"plugin\":{\"name\":\"signaling\",\"state\":\"disabled\""))
        << off.body;
    EXPECT_TRUE(contains(off.body, "\"override\":\"disabled\"},\"problems\":[]}")) << off.body;
    HttpResult gone = http("GET", ports.pub, "/organizations");
    EXPECT_EQ(gone.status, 404);
    EXPECT_EQ(gone.body, "{\"error\":\"not found\"}");
    EXPECT_TRUE(contains(readFile(overrideFile()), "\nsignaling: disabled\n"))
        << readFile(overrideFile());

    server->signal(SIGTERM);
    ASSERT_EQ(server->wait(), 0);
    start();
    EXPECT_EQ(organizations(), 404);
    EXPECT_TRUE(contains(server->log(), "plugin signaling disabled by runtime override in " +
                                            overrideFile() +
                                            "; DELETE /admin/api/plugins/signaling/override"))
        << server->log();
    EXPECT_TRUE(contains(plugins(),
                         "{\"name\":\"signaling\",\"state\":\"disabled\","
                         "\"required\":true,\"listener\":\"\",\"error\":\"\","
                         "\"dependencies\":[],\"library\":\"\",\"override\":\"disabled\"}"))
        << plugins();

    HttpResult reset = admin("DELETE", ports.admin, "/admin/api/plugins/signaling/override");
    EXPECT_EQ(reset.status, 200) << reset.body;
    EXPECT_TRUE(contains(reset.body, "{\"plugin\":{\"name\":\"signaling\",\"state\":\"running\""))
        << reset.body;
    EXPECT_TRUE(contains(reset.body, "\"override\":null},\"problems\":[]}")) << reset.body;
    EXPECT_EQ(organizations(), 401);
    EXPECT_FALSE(Poco::File(overrideFile()).exists());
}

TEST_F(PluginOverrideTest, EnablesWhatTheYamlDisablesAndGuardsDependencies) {
    EXPECT_EQ(http("POST", ports.pairing, "/server_status", "{}").status, 404);
    HttpResult on = admin("POST", ports.admin, "/admin/api/plugins/pairing/enable");
    EXPECT_EQ(on.status, 200) << on.body;
    EXPECT_TRUE(contains(on.body, "\"state\":\"running\"")) << on.body;
    EXPECT_EQ(http("POST", ports.pairing, "/server_status", "{}").status, 400);
    EXPECT_TRUE(contains(readFile(overrideFile()), "\npairing: enabled\n"));

    // signaling requires auth: auth cannot go while signaling runs.
    HttpResult refused = admin("POST", ports.admin, "/admin/api/plugins/auth/disable");
    EXPECT_EQ(refused.status, 409);
    EXPECT_TRUE(contains(refused.body,
                         "{\"error\":\"cannot disable plugin auth: the resulting configuration "
                         "is rejected; nothing changed\",\"problems\":["))
        << refused.body;
    EXPECT_TRUE(contains(refused.body,
                         "plugins.signaling: requires plugin 'auth', which is not "
                         "enabled"))
        << refused.body;
    EXPECT_EQ(organizations(), 401);
    EXPECT_FALSE(contains(readFile(overrideFile()), "auth"));

    // With signaling disabled first, auth may go; signaling then cannot come back without it.
    EXPECT_EQ(admin("POST", ports.admin, "/admin/api/plugins/signaling/disable").status, 200);
    EXPECT_EQ(admin("POST", ports.admin, "/admin/api/plugins/auth/disable").status, 200);
    HttpResult orphan = admin("POST", ports.admin, "/admin/api/plugins/signaling/enable");
    EXPECT_EQ(orphan.status, 409);
    EXPECT_TRUE(contains(orphan.body, "requires plugin 'auth', which is not enabled"))
        << orphan.body;
    EXPECT_EQ(organizations(), 404);
    EXPECT_EQ(admin("DELETE", ports.admin, "/admin/api/plugins/auth/override").status, 200);
    EXPECT_EQ(admin("DELETE", ports.admin, "/admin/api/plugins/signaling/override").status, 200);
    EXPECT_EQ(organizations(), 401);

    HttpResult unknown = admin("POST", ports.admin, "/admin/api/plugins/nosuch/disable");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_TRUE(contains(unknown.body, "{\"error\":\"no plugin named 'nosuch' in "))
        << unknown.body;
    EXPECT_EQ(http("POST", ports.admin, "/admin/api/plugins/pairing/disable").status, 401);
}

TEST(PluginOverrideFileTest, ABadOverrideFileIsAConfigErrorNamingIt) {
    TempDir dir;
    Ports ports;
    dir.write("switchboard.yaml", configYaml(dir, ports, "  pairing: { listener: pairing }\n"));
    Poco::File(dir.path() + "/var").createDirectories();
    dir.write("var/plugin-overrides.yaml", "pairing: off\n");
    RunResult r = runSwitchboard({"--check-config", "--config=switchboard.yaml"}, dir.path());
    EXPECT_EQ(r.exitCode, 78) << r.output;
    EXPECT_TRUE(contains(r.output, dir.path() +
                                       "/var/plugin-overrides.yaml:1: pairing: expected enabled "
                                       "or disabled"))
        << r.output;
}

}  // namespace
