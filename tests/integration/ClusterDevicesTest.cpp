// The devices plugin on two nodes (ClusterSupport.h): what one node does, the other shows; each
// online/offline transition and each token burn happens once cluster-wide (docs/decisions.md,
// "Many nodes"). Runs as pg.ClusterDevicesTest.* only.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "../plugins/devices/DevicesTestSupport.h"
#include "ClusterSupport.h"
#include "TestSupport.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using namespace devices;

class ClusterDevicesTest : public ClusterTest {};

std::string devicesPlugin(const std::string& offlineAfter) {
    return "  devices: { listener: public, offline_after: " + offlineAfter +
           ", check_interval: 100ms }\n";
}

/// Runs `onA` and `onB` at the same moment (two threads released together).
template <class A, class B>
void atOnce(A onA, B onB) {
    std::atomic<bool> go{false};
    std::thread ta([&] {
        while (!go) {
        }
        onA();
    });
    std::thread tb([&] {
        while (!go) {
        }
        onB();
    });
    go = true;
    ta.join();
    tb.join();
}

/// The events of `stream` (subscribed to device.*) up to and including the first `topic` of
/// device `until`, oldest first; empty if that one never comes.
std::vector<EventStream::Event> eventsUntil(EventStream& stream, const std::string& topic,
                                            const std::string& until) {
    std::vector<EventStream::Event> seen;
    const std::string needle = "\"device_key\":\"" + until + "\"";
    while (auto e = stream.nextAnyTopic("\"device_key\":")) {
        seen.push_back(*e);
        if (e->topic == topic && e->data.find(needle) != std::string::npos) {
            return seen;
        }
    }
    ADD_FAILURE() << "no " << topic << " of " << until;
    return {};
}

std::size_t count(const std::vector<EventStream::Event>& events, const std::string& topic,
                  const std::string& key) {
    std::size_t n = 0;
    for (const auto& e : events) {
        n += e.topic == topic && e.data.find("\"device_key\":\"" + key + "\"") != std::string::npos
                 ? 1
                 : 0;
    }
    return n;
}

TEST_F(ClusterDevicesTest, AHeartbeatOnAShowsOnlineOnBWithItsLastSeenAndAddresses) {
    startCluster(devicesPlugin("60s"));
    std::string token = enrol(a.ports.admin, "hb-1", "rack 1");
    ASSERT_EQ(registerDevice(a.pub(), "hb-1", token, R"({"ip_address":"10.0.0.1"})").status, 200);
    // B never heard of it: it reads it from the store.
    HttpResult onB = details(b.pub(), "hb-1");
    ASSERT_EQ(onB.status, 200) << onB.body;
    EXPECT_NE(onB.body.find("\"registered\":true"), std::string::npos) << onB.body;
    EXPECT_NE(onB.body.find("\"online\":true"), std::string::npos) << onB.body;

    ASSERT_EQ(
        heartbeat(a.pub(), "hb-1", R"({"ip_address":"10.0.0.7","ip_lan":"192.168.4.4"})").status,
        200);
    HttpResult onA = details(a.pub(), "hb-1");
    std::string lastSeen = numberText(onA.body, "last_seen");
    ASSERT_FALSE(lastSeen.empty()) << onA.body;
    const std::string info =
        "\"device_info\":{\"ip_address\":\"10.0.0.7\",\"ip_lan\":\"192.168.4.4\"}";
    ASSERT_NE(onA.body.find(info), std::string::npos) << onA.body;
    // Within the write-behind interval (200 ms in tests), every read B offers follows.
    EXPECT_TRUE(eventually([&] { return details(b.pub(), "hb-1").body == onA.body; }, 2s))
        << details(b.pub(), "hb-1").body << "\n"
        << onA.body;
    HttpResult shown = adminShow(b.ports.admin, "hb-1");
    EXPECT_NE(shown.body.find("\"online\":true,\"last_seen\":" + lastSeen + ","), std::string::npos)
        << shown.body;
    EXPECT_NE(shown.body.find(info), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"note\":\"rack 1\""), std::string::npos) << shown.body;
    HttpResult list = http("GET", b.ports.admin, "/admin/api/devices?q=hb-", "", adminAuth());
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_NE(list.body.find("\"online\":true,\"last_seen\":" + lastSeen + ","), std::string::npos)
        << list.body;
    EXPECT_NE(list.body.find(info), std::string::npos) << list.body;
    EXPECT_NE(list.body.find("\"total\":1,"), std::string::npos) << list.body;

    // And back: B's own heartbeat shows on A (B answers from its memory at once).
    ASSERT_EQ(heartbeat(b.pub(), "hb-1", R"({"ip_address":"10.0.0.8"})").status, 200);
    HttpResult later = details(b.pub(), "hb-1");
    EXPECT_NE(numberText(later.body, "last_seen"), lastSeen);
    EXPECT_NE(later.body.find("\"ip_address\":\"10.0.0.8\""), std::string::npos) << later.body;
    EXPECT_TRUE(eventually([&] { return details(a.pub(), "hb-1").body == later.body; }, 2s))
        << details(a.pub(), "hb-1").body << "\n"
        << later.body;
    HttpResult listA = http("GET", a.ports.admin, "/admin/api/devices", "", adminAuth());
    EXPECT_NE(listA.body.find("\"last_seen\":" + numberText(later.body, "last_seen")),
              std::string::npos)
        << listA.body;
}

TEST_F(ClusterDevicesTest, OneOnlineAndOneOfflineEventPerTransitionClusterWide) {
    startCluster(devicesPlugin("1500ms"));
    EventStream atA(a.ports.admin, "device.*");
    EventStream atB(b.ports.admin, "device.*");
    ASSERT_EQ(registerDevice(a.pub(), "flap", enrol(a.ports.admin, "flap")).status, 200);
    for (int round = 0; round < 3; ++round) {
        // Heartbeats for longer than offline_after through A only, then B only, then both in
        // turn: it stays online (the quiet node's view of it ages, the store's does not).
        auto until = std::chrono::steady_clock::now() + 2000ms;
        for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
            bool toA = round == 0 || (round == 2 && i % 2 == 0);
            ASSERT_EQ(heartbeat(toA ? a.pub() : b.pub(), "flap").status, 200);
            std::this_thread::sleep_for(100ms);
        }
        // A marker device, registered a little later and then silent, goes offline after
        // `flap` does: by its event both nodes have swept several times since `flap` expired.
        const std::string marker = "marker-" + std::to_string(round);
        std::this_thread::sleep_for(500ms);
        ASSERT_EQ(registerDevice(b.pub(), marker, enrol(b.ports.admin, marker)).status, 200);
        for (EventStream* stream : {&atA, &atB}) {
            std::vector<EventStream::Event> seen = eventsUntil(*stream, "device.offline", marker);
            EXPECT_EQ(count(seen, "device.online", "flap"), 1u) << "round " << round;
            EXPECT_EQ(count(seen, "device.offline", "flap"), 1u) << "round " << round;
            EXPECT_EQ(count(seen, "device.online", marker), 1u);
        }
        EXPECT_NE(details(b.pub(), "flap").body.find("\"online\":false"), std::string::npos);
        EXPECT_NE(adminShow(a.ports.admin, "flap").body.find("\"online\":false"),
                  std::string::npos);
        // Both nodes hear from it at the same moment: one of them announces it online (in the
        // next round's events).
        HttpResult ra, rb;
        atOnce([&] { ra = heartbeat(a.pub(), "flap"); }, [&] { rb = heartbeat(b.pub(), "flap"); });
        ASSERT_EQ(ra.body, okJson("Heartbeat received"));
        ASSERT_EQ(rb.body, okJson("Heartbeat received"));
        EXPECT_NE(details(a.pub(), "flap").body.find("\"online\":true"), std::string::npos);
        EXPECT_NE(details(b.pub(), "flap").body.find("\"online\":true"), std::string::npos);
    }
    // A revocation through B ends it: device.revoked and device.offline once each.
    ASSERT_EQ(adminRevoke(b.ports.admin, "flap").status, 200);
    for (EventStream* stream : {&atA, &atB}) {
        std::vector<EventStream::Event> seen = eventsUntil(*stream, "device.revoked", "flap");
        EXPECT_EQ(count(seen, "device.online", "flap"), 1u);
        EXPECT_EQ(count(seen, "device.offline", "flap"), 0u);
        auto offline = stream->next("device.offline", "\"flap\"");
        ASSERT_TRUE(offline);
    }
    EXPECT_EQ(heartbeat(a.pub(), "flap").body, failJson("Device revoked"));
}

TEST_F(ClusterDevicesTest, EnrolmentTokensBurnExactlyOnceWhenBothNodesGetTheSameTokenAtOnce) {
    startCluster(devicesPlugin("60s"));
    for (int round = 0; round < 8; ++round) {
        const std::string key = "twin-" + std::to_string(round);
        // Enrolled on either node (ids are given out from the store), then, every other
        // round, registered and given a new token to race a re-registration.
        int admin = round % 2 == 0 ? a.ports.admin : b.ports.admin;
        std::string token = enrol(admin, key);
        ASSERT_FALSE(token.empty());
        if (round >= 4) {
            ASSERT_EQ(registerDevice(a.pub(), key, token).status, 200);
            token = newToken(round % 2 == 0 ? b.ports.admin : a.ports.admin, key);
        }
        HttpResult ra, rb;
        atOnce([&] { ra = registerDevice(a.pub(), key, token, R"({"note":"via a"})"); },
               [&] { rb = registerDevice(b.pub(), key, token, R"({"note":"via b"})"); });
        std::multiset<int> statuses{ra.status, rb.status};
        ASSERT_EQ(statuses, (std::multiset<int>{200, 409})) << ra.body << " / " << rb.body;
        const HttpResult& won = ra.status == 200 ? ra : rb;
        const HttpResult& lost = ra.status == 200 ? rb : ra;
        EXPECT_EQ(won.body, registeredJson(key));
        EXPECT_EQ(lost.body, failJson("Already registered"));
        // Both nodes show the winner's registration.
        const std::string note = ra.status == 200 ? "\"note\":\"via a\"" : "\"note\":\"via b\"";
        EXPECT_NE(details(a.pub(), key).body.find(note), std::string::npos);
        EXPECT_NE(details(b.pub(), key).body.find(note), std::string::npos);
        EXPECT_EQ(registerDevice(b.pub(), key, token).body, failJson("Already registered"));
    }
}

TEST_F(ClusterDevicesTest, TokensFromAWorkOnBAndARevocationOnAIsSeenOnB) {
    startCluster(devicesPlugin("60s"));
    // Enrolments alternate between the nodes: each gets its own id and both are listed.
    std::string t1 = enrol(a.ports.admin, "x-1");
    std::string t2 = enrol(b.ports.admin, "x-2");
    std::string t3 = enrol(a.ports.admin, "x-3");
    ASSERT_FALSE(t1.empty() || t2.empty() || t3.empty());
    EXPECT_EQ(adminCreate(b.ports.admin, R"({"device_key":"x-1"})").body,
              errorJson("device already exists"));
    for (int admin : {a.ports.admin, b.ports.admin}) {
        HttpResult list = http("GET", admin, "/admin/api/devices?q=x-", "", adminAuth());
        EXPECT_NE(list.body.find("\"total\":3,"), std::string::npos) << list.body;
        EXPECT_NE(list.body.find("\"device_key\":\"x-2\""), std::string::npos) << list.body;
        EXPECT_NE(list.body.find("\"token_pending\":true"), std::string::npos) << list.body;
    }
    // A token made on one node registers on the other.
    EXPECT_EQ(heartbeat(b.pub(), "x-1").body, failJson("Device not registered"));
    EXPECT_EQ(registerDevice(b.pub(), "x-1", t1).body, registeredJson("x-1"));
    EXPECT_EQ(registerDevice(a.pub(), "x-2", t2).body, registeredJson("x-2"));
    EXPECT_EQ(heartbeat(a.pub(), "x-1").body, okJson("Heartbeat received"));
    // A new token issued on A replaces the old one on B too.
    std::string fresh = newToken(a.ports.admin, "x-3");
    EXPECT_EQ(registerDevice(b.pub(), "x-3", t3).body, failJson("Invalid token"));
    EXPECT_EQ(registerDevice(b.pub(), "x-3", fresh).body, registeredJson("x-3"));
    EXPECT_NE(adminShow(a.ports.admin, "x-3").body.find("\"registered\":true"), std::string::npos);
    // A revocation on A is refused on B within a second, on every route.
    ASSERT_EQ(heartbeat(b.pub(), "x-2").status, 200);
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 k";
    ASSERT_EQ(putSshKey(b.pub(), "x-2", "{\"pubkey\":\"" + key + "\"}").status, 200);
    EXPECT_NE(details(a.pub(), "x-2").body.find(key), std::string::npos);
    ASSERT_EQ(adminRevoke(a.ports.admin, "x-2").status, 200);
    EXPECT_TRUE(eventually(
        [&] { return heartbeat(b.pub(), "x-2").body == failJson("Device revoked"); }, 1s));
    EXPECT_EQ(details(b.pub(), "x-2").body, failJson("Device revoked"));
    EXPECT_EQ(putSshKey(b.pub(), "x-2", "{\"pubkey\":\"" + key + "\"}").body,
              failJson("Device revoked"));
    EXPECT_NE(adminShow(b.ports.admin, "x-2").body.find("\"revoked\":true"), std::string::npos);
    EXPECT_EQ(registerDevice(b.pub(), "x-2", t2).body, failJson("Invalid token"));
    // Brought back with a token from B, it beats on A again.
    EXPECT_EQ(registerDevice(a.pub(), "x-2", newToken(b.ports.admin, "x-2")).body,
              registeredJson("x-2"));
    EXPECT_TRUE(eventually(
        [&] { return heartbeat(b.pub(), "x-2").body == okJson("Heartbeat received"); }, 1s));
    EXPECT_EQ(details(b.pub(), "nobody").body, failJson("Device not found"));
}

TEST_F(ClusterDevicesTest, ARevocationMadeWhileRedisWasAwayIsSeenWhenItComesBack) {
    startCluster(devicesPlugin("60s"));
    ASSERT_EQ(registerDevice(a.pub(), "rc-1", enrol(a.ports.admin, "rc-1")).status, 200);
    ASSERT_EQ(heartbeat(b.pub(), "rc-1").body, okJson("Heartbeat received"));
    redis.kill();
    EXPECT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 503; }, 5s));
    ASSERT_EQ(adminRevoke(a.ports.admin, "rc-1").status, 200);  // its event cannot cross
    // B's heartbeat path keeps what it knew (its write no longer matches the stored row).
    EXPECT_EQ(heartbeat(b.pub(), "rc-1").body, okJson("Heartbeat received"));
    redis.start();
    EXPECT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 200; }, 10s));
    // bus.reconnected: B re-reads every device.
    EXPECT_TRUE(eventually(
        [&] { return heartbeat(b.pub(), "rc-1").body == failJson("Device revoked"); }, 2s));
}

}  // namespace
}  // namespace switchboard::test
