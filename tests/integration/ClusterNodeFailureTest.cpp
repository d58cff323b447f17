// `kill -9` of one of two nodes (ClusterSupport.h): the pairing servers and devices that beat
// through it age out on the other node, announced once each, and everything the dead node
// acknowledged is served by the other (docs/operations.md, "Many nodes"). Runs as
// pg.ClusterNodeFailureTest.* only.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>
#include <vector>

#include "../plugins/auth/AuthTestSupport.h"
#include "../plugins/devices/DevicesTestSupport.h"
#include "ClusterSupport.h"
#include "TestSupport.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

class ClusterNodeFailureTest : public ClusterTest {};

std::string plugins() {
    return auth::authPlugin() +
           "  pairing: { listener: pairing, offline_after: 1s, check_interval: 100ms,"
           " rate_limit: { per_address: 0, per_network: 0, total: 0 },"
           " registration_limit: { per_address: 0, per_network: 0 } }\n"
           "  devices: { listener: public, offline_after: 1s, check_interval: 100ms }\n";
}

std::size_t count(const std::vector<EventStream::Event>& events, const std::string& topic,
                  const std::string& needle);

/// The events of `stream` whose data holds `about`, up to and including the one that completes
/// a `topic` event for each of `until` (data holding it); a failure if they do not all come.
std::vector<EventStream::Event> eventsUntil(EventStream& stream, const std::string& about,
                                            const std::string& topic,
                                            const std::vector<std::string>& until) {
    std::vector<EventStream::Event> seen;
    auto complete = [&] {
        for (const auto& needle : until) {
            if (count(seen, topic, needle) == 0) {
                return false;
            }
        }
        return true;
    };
    while (!complete()) {
        auto e = stream.nextAnyTopic(about);
        if (!e) {
            ADD_FAILURE() << "not every " << topic << " came: " << seen.size() << " events";
            break;
        }
        seen.push_back(*e);
    }
    return seen;
}

std::size_t count(const std::vector<EventStream::Event>& events, const std::string& topic,
                  const std::string& needle) {
    std::size_t n = 0;
    for (const auto& e : events) {
        n += e.topic == topic && e.data.find(needle) != std::string::npos ? 1 : 0;
    }
    return n;
}

TEST_F(ClusterNodeFailureTest, KillNineOfAAgesItsServersAndDevicesOutOnceOnBAndLosesNothing) {
    startCluster(plugins());
    EventStream serversAtB(b.ports.admin, "server.*");
    EventStream devicesAtB(b.ports.admin, "device.*");

    // Acknowledged by A: an account, two pairing servers, two registered devices (one with an
    // SSH key) and a device with a pending token.
    std::int64_t user = auth::registerUser(a.pub(), "gus@example.com", "password123", "gus");
    const std::vector<std::string> servers = {"ssh-ed25519 S-one", "ssh-ed25519 S-two"};
    std::vector<int> codes;
    for (const auto& s : servers) {
        codes.push_back(registerServer(a.ports.pairing, s));
    }
    const std::vector<std::string> keys = {"dev-one", "dev-two"};
    for (const auto& k : keys) {
        ASSERT_EQ(devices::registerDevice(a.pub(), k, devices::enrol(a.ports.admin, k),
                                          R"({"mac":"00:1A:2B:3C:4D:5E"})")
                      .status,
                  200);
    }
    const std::string sshKey =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 k";
    ASSERT_EQ(devices::putSshKey(a.pub(), "dev-one", "{\"pubkey\":\"" + sshKey + "\"}").status,
              200);
    std::string pending = devices::enrol(a.ports.admin, "dev-pending");

    // B serves them.
    for (std::size_t i = 0; i < servers.size(); ++i) {
        EXPECT_EQ(http("POST", b.ports.pairing, "/get_server_details",
                       "{\"pairing_code\":" + std::to_string(codes[i]) + "}")
                      .body,
                  serverJson(servers[i]));
    }
    EXPECT_NE(devices::details(b.pub(), "dev-two").body.find("\"online\":true"), std::string::npos);
    // Everything beats through A for longer than offline_after, B asked nothing meanwhile: its
    // copies of them age, its sweeps find them alive in the store.
    auto until = std::chrono::steady_clock::now() + 2500ms;
    while (std::chrono::steady_clock::now() < until) {
        for (const auto& s : servers) {
            ASSERT_EQ(serverStatus(a.ports.pairing, s, "heartbeat").status, 200);
        }
        for (const auto& k : keys) {
            ASSERT_EQ(devices::heartbeat(a.pub(), k, R"({"ip_lan":"10.9.9.9"})").status, 200);
        }
        std::this_thread::sleep_for(100ms);
    }
    double lastBeat =
        std::stod(devices::numberText(devices::details(a.pub(), "dev-one").body, "last_seen"));

    a.process->signal(SIGKILL);
    ASSERT_EQ(a.process->wait(), 128 + SIGKILL);

    // B takes each offline after offline_after, announcing it once: counted up to the offline
    // event of a marker registered on B after they went, by which B has swept many times more.
    std::vector<std::string> deviceNeedles;
    for (const auto& k : keys) {
        deviceNeedles.push_back("\"" + k + "\"");
    }
    std::vector<EventStream::Event> serverEvents =
        eventsUntil(serversAtB, "ssh-ed25519 S-", "server.offline", servers);
    std::vector<EventStream::Event> deviceEvents =
        eventsUntil(devicesAtB, "\"dev-", "device.offline", deviceNeedles);
    registerServer(b.ports.pairing, "ssh-ed25519 S-marker");
    ASSERT_EQ(
        devices::registerDevice(b.pub(), "dev-marker", devices::enrol(b.ports.admin, "dev-marker"))
            .status,
        200);
    for (const auto& e :
         eventsUntil(serversAtB, "ssh-ed25519 S-", "server.offline", {"S-marker"})) {
        serverEvents.push_back(e);
    }
    for (const auto& e : eventsUntil(devicesAtB, "\"dev-", "device.offline", {"\"dev-marker\""})) {
        deviceEvents.push_back(e);
    }
    for (const auto& s : servers) {
        EXPECT_EQ(count(serverEvents, "server.offline", s), 1u) << s;
    }
    for (const auto& k : deviceNeedles) {
        EXPECT_EQ(count(deviceEvents, "device.offline", k), 1u) << k;
        EXPECT_EQ(count(deviceEvents, "device.online", k), 1u) << k;  // at registration
    }

    // Nothing A acknowledged is lost.
    auth::Login l = auth::login(b.pub(), "username", "gus", "password123");
    ASSERT_TRUE(l.ok()) << l.result.body;
    EXPECT_EQ(auth::jsonInt(auth::call("GET", b.pub(), "/me", "", l.auth).body, "id"), user);
    for (std::size_t i = 0; i < servers.size(); ++i) {
        HttpResult status = serverStatus(b.ports.pairing, servers[i], "get_server_status");
        EXPECT_EQ(status.status, 200) << status.body;
        EXPECT_NE(status.body.find("\"online\":false"), std::string::npos) << status.body;
        EXPECT_EQ(http("POST", b.ports.pairing, "/get_server_details",
                       "{\"pairing_code\":" + std::to_string(codes[i]) + "}")
                      .status,
                  404);
    }
    for (const auto& k : keys) {
        HttpResult d = devices::details(b.pub(), k);
        EXPECT_NE(d.body.find("\"registered\":true"), std::string::npos) << d.body;
        EXPECT_NE(d.body.find("\"online\":false"), std::string::npos) << d.body;
        EXPECT_NE(d.body.find("\"mac\":\"00:1A:2B:3C:4D:5E\""), std::string::npos) << d.body;
        EXPECT_NE(d.body.find("\"ip_lan\":\"10.9.9.9\""), std::string::npos) << d.body;
        // Write-behind heartbeats may lose at most store.flush_interval (200 ms in tests).
        EXPECT_GE(std::stod(devices::numberText(d.body, "last_seen")), lastBeat - 0.25) << d.body;
    }
    EXPECT_NE(devices::details(b.pub(), "dev-one").body.find(sshKey), std::string::npos);
    EXPECT_EQ(devices::registerDevice(b.pub(), "dev-pending", pending).body,
              devices::registeredJson("dev-pending"));
    // The devices come back through B, announced once.
    ASSERT_EQ(devices::heartbeat(b.pub(), "dev-one").status, 200);
    auto back = devicesAtB.next("device.online", "\"dev-one\"");
    ASSERT_TRUE(back);
    EXPECT_NE(devices::details(b.pub(), "dev-one").body.find("\"online\":true"), std::string::npos);
    // A pairing server re-registers through B and pairs again.
    int fresh = registerServer(b.ports.pairing, servers[0]);
    EXPECT_EQ(http("POST", b.ports.pairing, "/get_server_details",
                   "{\"pairing_code\":" + std::to_string(fresh) + "}")
                  .body,
              serverJson(servers[0]));
}

}  // namespace
}  // namespace switchboard::test
