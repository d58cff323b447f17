// The signaling plugin on two nodes (ClusterSupport.h): presence, signals and a replaced agent
// cross nodes, addresses stay unique under concurrent allocations on both, a node's death is
// announced after the grace, and presence is made whole again after Redis comes back or when a
// node starts later (docs/decisions.md, "Many nodes"). Runs as pg.ClusterSignalingTest.* only.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "../plugins/signaling/SignalingTestSupport.h"
#include "ClusterSupport.h"
#include "switchboard/Json.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using signaling::Agent;
using signaling::allocate;
using signaling::api;
using signaling::createOrg;
using signaling::join;
using signaling::makeUser;
using signaling::parse;
using signaling::User;

std::string str(const rapidjson::Value& v, const char* key) {
    return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

class ClusterSignalingTest : public ClusterTest {
protected:
    void start(const std::string& options = "") {
        startCluster(signaling::signalingPlugins(", reconnect_grace: 1s" + options));
    }

    /// An organization on `subnet` with `count` members (made on node a), each with an address.
    struct Org {
        std::int64_t id = 0;
        std::vector<User> users;
    };
    Org makeOrg(const std::string& name, const std::string& subnet, int count) {
        Org org;
        for (int i = 0; i < count; ++i) {
            org.users.push_back(makeUser(a.pub(), name + "-" + std::to_string(i)));
        }
        org.id = createOrg(a.pub(), org.users[0], subnet, name);
        for (int i = 0; i < count; ++i) {
            if (i > 0) {
                join(a.pub(), org.users[i], org.id);
            }
            allocate(a.pub(), org.users[i], org.id);
        }
        return org;
    }

    /// Peers of the organization `node` knows of, on any node (the operator's view).
    static std::int64_t onlineAt(const Node& node, std::int64_t org) {
        HttpResult r = http("GET", node.ports.admin,
                            "/admin/api/signaling/organizations/" + std::to_string(org), "",
                            {{"Authorization", std::string("Bearer ") + kAdminToken}});
        auto d = parse(r.body);
        return d.IsObject() && d.HasMember("online") && d["online"].IsInt64()
                   ? d["online"].GetInt64()
                   : -1;
    }
};

TEST_F(ClusterSignalingTest, PresenceCrossesNodesWithinTheOrganizationOnly) {
    start();
    Org org = makeOrg("presence", "10.20.0.0/24", 2);
    Org other = makeOrg("elsewhere", "10.20.0.0/24", 1);  // the same subnet, another org

    Agent x(a.pub(), org.users[0].token);
    EXPECT_EQ(x.registered("x-on-a")["existing_peers"].Size(), 0u);
    Agent stranger(b.pub(), other.users[0].token);
    stranger.registered("stranger-on-b");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 1; }, 1s));

    // The peer list at registration on B includes the peer on A, exactly as A announced it.
    Agent y(b.pub(), org.users[1].token);
    auto answer = y.registered("y-on-b");
    ASSERT_EQ(answer["existing_peers"].Size(), 1u);
    EXPECT_EQ(json::stringify(answer["existing_peers"][0]),
              R"({"peer_id":"x-on-a","user_id":)" + std::to_string(org.users[0].id) +
                  R"(,"email":")" + org.users[0].email +
                  R"(","agent_id":"x-on-a","public_ip":"203.0.113.1","public_port":50000,)"
                  R"("relay_ip":null,"relay_port":null,"virtual_ip":"10.20.0.1"})");

    // A's peer hears of B's within a second, with the seed's fields.
    auto online = x.nextOf("peer_online", 1s);
    ASSERT_TRUE(online);
    EXPECT_EQ(str((*online)["peer"], "peer_id"), "y-on-b");
    EXPECT_EQ((*online)["peer"]["user_id"].GetInt64(), org.users[1].id);
    EXPECT_EQ(str((*online)["peer"], "virtual_ip"), "10.20.0.2");

    // A clean close on B is announced on A within a second.
    y.closeCleanly();
    auto offline = x.nextOf("peer_offline", 1s);
    ASSERT_TRUE(offline);
    EXPECT_EQ(json::stringify(*offline), R"({"type":"peer_offline","peer_id":"y-on-b","user_id":)" +
                                             std::to_string(org.users[1].id) +
                                             R"(,"virtual_ip":"10.20.0.2"})");
    // And a close on A reaches B.
    Agent y2(b.pub(), org.users[1].token);
    EXPECT_EQ(y2.registered("y2-on-b")["existing_peers"].Size(), 1u);
    ASSERT_TRUE(x.nextOf("peer_online", 1s));
    x.closeCleanly();
    auto gone = y2.nextOf("peer_offline", 1s);
    ASSERT_TRUE(gone);
    EXPECT_EQ(str(*gone, "peer_id"), "x-on-a");
    // Nothing of the other organization crossed.
    EXPECT_TRUE(stranger.silent(300ms));
    EXPECT_TRUE(y2.silent(100ms));
}

TEST_F(ClusterSignalingTest, SignalsRelayAcrossNodesWithTheOneNodeErrors) {
    start();
    Org org = makeOrg("relay", "10.21.0.0/24", 2);
    Agent x(a.pub(), org.users[0].token);
    x.registered("relay-x");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 1; }, 1s));
    Agent y(b.pub(), org.users[1].token);
    y.registered("relay-y");
    ASSERT_TRUE(x.nextOf("peer_online", 1s));

    x.send(R"({"type":"signal","to":"relay-y","data":{"sdp":"v=0","candidates":[1,2]}})");
    EXPECT_EQ(y.next(1s).value_or(""),
              R"({"type":"signal","from":"relay-x","data":{"sdp":"v=0","candidates":[1,2]}})");
    y.send(R"({"type":"signal","to":"relay-x","data":{"answer":true}})");
    EXPECT_EQ(x.next(1s).value_or(""),
              R"({"type":"signal","from":"relay-y","data":{"answer":true}})");
    // A peer on no node: the one-node error at once.
    x.send(R"({"type":"signal","to":"nobody","data":{}})");
    EXPECT_EQ(x.next(1s).value_or(""), R"({"error":"Unknown peer","to":"nobody"})");

    // y's connection drops: it lingers on B, which A does not know; B's answer comes back.
    y.drop();
    ASSERT_TRUE(eventually(
        [&] {
            HttpResult r =
                http("GET", b.ports.admin,
                     "/admin/api/signaling/peers?organization_id=" + std::to_string(org.id), "",
                     {{"Authorization", std::string("Bearer ") + kAdminToken}});
            return r.body.find("\"connected\":false") != std::string::npos;
        },
        1s));
    x.send(R"({"type":"signal","to":"relay-y","data":{"late":1}})");
    EXPECT_EQ(x.next(1s).value_or(""), R"({"error":"Peer not connected","to":"relay-y"})");
    // After the grace it is gone on both: Unknown peer.
    ASSERT_TRUE(x.nextOf("peer_offline", 3s));
    x.send(R"({"type":"signal","to":"relay-y","data":{"later":1}})");
    EXPECT_EQ(x.next(1s).value_or(""), R"({"error":"Unknown peer","to":"relay-y"})");
}

TEST_F(ClusterSignalingTest, ADuplicateAgentOnBReplacesTheConnectionOnAWithoutAFlap) {
    start();
    Org org = makeOrg("replace", "10.22.0.0/24", 4);
    EventStream eventsAtA(a.ports.admin, "peer.*");
    Agent watcherA(a.pub(), org.users[0].token);
    watcherA.registered("watcher-a");
    Agent first(a.pub(), org.users[1].token);
    first.registered("laptop");
    ASSERT_TRUE(watcherA.nextOf("peer_online"));
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 2; }, 1s));
    Agent watcherB(b.pub(), org.users[3].token);
    EXPECT_EQ(watcherB.registered("watcher-b")["existing_peers"].Size(), 2u);
    ASSERT_TRUE(watcherA.nextOf("peer_online", 1s));
    ASSERT_TRUE(first.nextOf("peer_online", 1s));

    Agent second(b.pub(), org.users[1].token);
    second.send(
        R"({"type":"register","agent_id":"laptop","public_ip":"203.0.113.9","public_port":2222})");
    auto answer = parse(second.next().value_or("{}"));
    EXPECT_EQ(str(answer, "type"), "register_agent_response");
    EXPECT_EQ(str(answer, "virtual_ip"), "10.22.0.2");
    // A closes the old connection with 4000, as one node does.
    EXPECT_FALSE(first.next(2s).has_value());
    EXPECT_TRUE(first.closed());
    EXPECT_EQ(first.closeCode(), 4000);
    // Each watcher sees one peer_online with the new endpoints and no peer_offline.
    for (Agent* w : {&watcherA, &watcherB}) {
        auto online = w->next(1s);
        ASSERT_TRUE(online);
        auto doc = parse(*online);
        EXPECT_EQ(str(doc, "type"), "peer_online") << *online;
        EXPECT_EQ(doc["peer"]["public_port"].GetInt64(), 2222);
        EXPECT_EQ(str(doc["peer"], "public_ip"), "203.0.113.9");
    }
    EXPECT_TRUE(watcherA.silent(1500ms));  // past the grace too
    EXPECT_TRUE(watcherB.silent(100ms));
    auto replaced = eventsAtA.next("peer.offline", "\"reason\":\"replaced\"");
    ASSERT_TRUE(replaced);
    EXPECT_NE(replaced->data.find("\"peer_id\":\"laptop\""), std::string::npos);
    // Signals reach the new connection.
    watcherA.send(R"({"type":"signal","to":"laptop","data":{"n":1}})");
    EXPECT_EQ(second.next(1s).value_or(""),
              R"({"type":"signal","from":"watcher-a","data":{"n":1}})");

    // Another user cannot take the agent id from either node.
    for (int port : {a.pub(), b.pub()}) {
        Agent thief(port, org.users[2].token);
        thief.registerAgent("laptop");
        auto refusal = parse(thief.next().value_or("{}"));
        EXPECT_EQ(str(refusal, "error"), "Registration failed");
        EXPECT_FALSE(thief.next().has_value());
        EXPECT_EQ(thief.closeCode(), 1008);
    }
    EXPECT_TRUE(second.silent());
}

TEST_F(ClusterSignalingTest, ConcurrentAllocationsOnBothNodesNeverShareAnAddress) {
    start();
    constexpr int kUsers = 48;
    Org org = makeOrg("alloc", "10.23.0.0/24", 1);
    std::vector<User> users;
    for (int i = 0; i < kUsers; ++i) {
        users.push_back(makeUser(i % 2 == 0 ? a.pub() : b.pub(), "alloc-u" + std::to_string(i)));
        join(i % 2 == 0 ? b.pub() : a.pub(), users.back(), org.id);
    }
    // Three clients per node allocate at once, each user once on each node (the second call
    // must return the same address: allocation is idempotent per user).
    std::vector<std::string> first(kUsers), second(kUsers);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            while (!go) {
            }
            int port = t % 2 == 0 ? a.pub() : b.pub();
            int otherPort = t % 2 == 0 ? b.pub() : a.pub();
            for (int i = t; i < kUsers; i += 6) {
                first[i] = allocate(port, users[i], org.id);
            }
            for (int i = t; i < kUsers; i += 6) {
                second[i] = allocate(otherPort, users[i], org.id);
            }
        });
    }
    go = true;
    for (auto& th : threads) {
        th.join();
    }
    std::set<std::string> distinct(first.begin(), first.end());
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kUsers));
    EXPECT_EQ(distinct.count(""), 0u);
    EXPECT_EQ(first, second);
    // The lowest free addresses: .2 to .49 (.1 is the creator's).
    std::set<std::string> expected;
    for (int i = 2; i < 2 + kUsers; ++i) {
        expected.insert("10.23.0." + std::to_string(i));
    }
    EXPECT_EQ(distinct, expected);
    auto ips = parse(
        api("GET", b.pub(), "/organizations/" + std::to_string(org.id) + "/ips", org.users[0].token)
            .body);
    ASSERT_TRUE(ips.IsArray());
    EXPECT_EQ(ips.Size(), static_cast<rapidjson::SizeType>(kUsers + 1));

    // One user on both nodes at the same moment: one address.
    for (int round = 0; round < 5; ++round) {
        User u = makeUser(a.pub(), "alloc-twin" + std::to_string(round));
        join(a.pub(), u, org.id);
        std::string ra, rb;
        std::atomic<bool> now{false};
        std::thread ta([&] {
            while (!now) {
            }
            ra = allocate(a.pub(), u, org.id);
        });
        std::thread tb([&] {
            while (!now) {
            }
            rb = allocate(b.pub(), u, org.id);
        });
        now = true;
        ta.join();
        tb.join();
        EXPECT_EQ(ra, rb);
        EXPECT_EQ(ra, "10.23.0." + std::to_string(2 + kUsers + round));
    }
}

TEST_F(ClusterSignalingTest, KillNineOfANodeAnnouncesItsPeersOfflineAfterTheGrace) {
    start();
    Org org = makeOrg("death", "10.24.0.0/24", 3);
    EventStream eventsAtB(b.ports.admin, "peer.offline");
    auto doomed = std::make_unique<Agent>(a.pub(), org.users[0].token);
    doomed->registered("doomed");
    auto roamer = std::make_unique<Agent>(a.pub(), org.users[1].token);
    roamer->registered("roamer");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 2; }, 1s));
    Agent survivor(b.pub(), org.users[2].token);
    EXPECT_EQ(survivor.registered("survivor")["existing_peers"].Size(), 2u);

    a.process->signal(SIGKILL);
    auto killed = std::chrono::steady_clock::now();
    a.process->wait();
    // The roamer comes back on B within the grace: one peer_online, never offline.
    Agent back(b.pub(), org.users[1].token);
    back.send(
        R"({"type":"register","agent_id":"roamer","public_ip":"203.0.113.1","public_port":3000})");
    EXPECT_EQ(str(parse(back.next().value_or("{}")), "type"), "register_agent_response");
    auto returned = survivor.nextOf("peer_online", 1s);
    ASSERT_TRUE(returned);
    EXPECT_EQ(str((*returned)["peer"], "peer_id"), "roamer");
    EXPECT_EQ((*returned)["peer"]["public_port"].GetInt64(), 3000);

    // The other is announced once node a is found silent (bus node_timeout, 2 s) and its grace
    // (1 s) ran out.
    auto offline = survivor.nextOf("peer_offline", 5s);
    auto took = std::chrono::steady_clock::now() - killed;
    ASSERT_TRUE(offline);
    EXPECT_EQ(str(*offline, "peer_id"), "doomed");
    EXPECT_GE(took, 1s);
    EXPECT_LE(took, 4s);
    auto event = eventsAtB.next("peer.offline", "\"peer_id\":\"doomed\"");
    ASSERT_TRUE(event);
    EXPECT_NE(event->data.find("\"reason\":\"dropped\""), std::string::npos) << event->data;
    EXPECT_TRUE(survivor.silent(1500ms));
    EXPECT_EQ(onlineAt(b, org.id), 2);  // survivor and roamer
    // The roamer had moved before node a was found down: one peer lingered.
    EXPECT_NE(b.process->log().find("is down: its 1 peer(s) are offline unless they return"),
              std::string::npos)
        << b.process->log();
}

TEST_F(ClusterSignalingTest, ANodeTakenForDeadThatWasOnlySlowAnnouncesItsPeersAgain) {
    start();
    Org org = makeOrg("slow", "10.27.0.0/24", 2);
    Agent onA(a.pub(), org.users[0].token);
    onA.registered("on-slow-a");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 1; }, 1s));
    Agent watcher(b.pub(), org.users[1].token);
    EXPECT_EQ(watcher.registered("watcher-on-b")["existing_peers"].Size(), 1u);

    // A stops (SIGSTOP) past the node timeout (2 s) and the grace (1 s): B announces its peer.
    a.process->signal(SIGSTOP);
    auto offline = watcher.nextOf("peer_offline", 6s);
    a.process->signal(SIGCONT);
    ASSERT_TRUE(offline);
    EXPECT_EQ(str(*offline, "peer_id"), "on-slow-a");
    // A wakes up, hears that its live peer was announced offline, and says it is here.
    auto back = watcher.nextOf("peer_online", 3s);
    ASSERT_TRUE(back);
    EXPECT_EQ(str((*back)["peer"], "peer_id"), "on-slow-a");
    EXPECT_TRUE(eventually([&] { return onlineAt(b, org.id) == 2; }, 1s));
    watcher.send(R"({"type":"signal","to":"on-slow-a","data":{"awake":true}})");
    auto signal = onA.nextOf("signal", 2s);
    ASSERT_TRUE(signal);
    EXPECT_EQ(json::stringify(*signal),
              R"({"type":"signal","from":"watcher-on-b","data":{"awake":true}})");
}

TEST_F(ClusterSignalingTest, PresenceIsResyncedAfterRedisComesBack) {
    start();
    Org org = makeOrg("resync", "10.25.0.0/24", 4);
    Agent stays(a.pub(), org.users[0].token);
    stays.registered("stays-on-a");
    auto leaving = std::make_unique<Agent>(a.pub(), org.users[1].token);
    leaving->registered("leaves-on-a");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 2; }, 1s));
    Agent watcher(b.pub(), org.users[2].token);
    EXPECT_EQ(watcher.registered("watcher-on-b")["existing_peers"].Size(), 2u);
    ASSERT_TRUE(stays.nextOf("peer_online", 1s));
    ASSERT_TRUE(leaving->nextOf("peer_online", 1s));

    redis.kill();
    ASSERT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 503; }, 5s));
    ASSERT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 503; }, 5s));
    // Missed by the other node while Redis is away.
    leaving->closeCleanly();
    Agent late(b.pub(), org.users[3].token);
    late.registered("arrives-on-b");
    ASSERT_TRUE(watcher.nextOf("peer_online", 1s));  // B's own peers hear of it at once
    EXPECT_TRUE(watcher.silent(300ms));
    EXPECT_TRUE(stays.nextOf("peer_offline", 1s));  // A's own peer hears of A's close

    redis.start();
    // Once both are back, each node's peers learn what they missed.
    auto missedOnline = stays.nextOf("peer_online", 10s);
    ASSERT_TRUE(missedOnline);
    EXPECT_EQ(str((*missedOnline)["peer"], "peer_id"), "arrives-on-b");
    auto missedOffline = watcher.nextOf("peer_offline", 10s);
    ASSERT_TRUE(missedOffline);
    EXPECT_EQ(str(*missedOffline, "peer_id"), "leaves-on-a");
    EXPECT_TRUE(
        eventually([&] { return onlineAt(a, org.id) == 3 && onlineAt(b, org.id) == 3; }, 2s));
    // And signals cross again once both nodes are ready (publisher and subscriber connected).
    ASSERT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 200; }, 10s));
    ASSERT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 200; }, 10s));
    stays.send(R"({"type":"signal","to":"arrives-on-b","data":{"again":true}})");
    auto signal = late.nextOf("signal", 2s);
    ASSERT_TRUE(signal);
    EXPECT_EQ(json::stringify(*signal),
              R"({"type":"signal","from":"stays-on-a","data":{"again":true}})");
}

TEST_F(ClusterSignalingTest, ANodeStartedLaterListsThePeersOfTheOthers) {
    start();
    Org org = makeOrg("later", "10.26.0.0/24", 2);
    Agent early(a.pub(), org.users[0].token);
    early.registered("early-on-a");
    ASSERT_TRUE(eventually([&] { return onlineAt(b, org.id) == 1; }, 1s));
    // B restarts: a new node id, nothing in memory; it reads the peers of the others from the
    // store.
    b.process->signal(SIGTERM);
    ASSERT_EQ(b.process->wait(), 0);
    b.start();
    EXPECT_EQ(onlineAt(b, org.id), 1);
    Agent fresh(b.pub(), org.users[1].token);
    auto answer = fresh.registered("fresh-on-b");
    ASSERT_EQ(answer["existing_peers"].Size(), 1u);
    EXPECT_EQ(str(answer["existing_peers"][0], "peer_id"), "early-on-a");
    ASSERT_TRUE(early.nextOf("peer_online", 1s));
    early.send(R"({"type":"signal","to":"fresh-on-b","data":{"hello":1}})");
    EXPECT_EQ(fresh.next(1s).value_or(""),
              R"({"type":"signal","from":"early-on-a","data":{"hello":1}})");
}

// The presence rows' SQL on SQLite too (a node may share a bus while keeping its own SQLite
// store), and rows left by a node that died while no other node ran: the restarted node (a new
// node id) lists them, the bus watches their old node, and they go offline after its timeout
// and the grace, announced once.
TEST_F(ClusterSignalingTest, RowsOfANodeThatDiedAloneGoOfflineAfterItsTimeoutOnSqliteToo) {
    Node solo;
    solo.yaml = withStore(
        configYaml(solo.dir, solo.ports, signaling::signalingPlugins(", reconnect_grace: 1s"),
                   "bus: { url: \"" + redis.url() + "\" }\n"),
        "sqlite:" + solo.dir.path() + "/var/switchboard.db");
    solo.start();
    auto users = std::vector<User>{makeUser(solo.pub(), "solo-0"), makeUser(solo.pub(), "solo-1")};
    std::int64_t org = createOrg(solo.pub(), users[0], "10.28.0.0/24", "solo");
    join(solo.pub(), users[1], org);
    allocate(solo.pub(), users[0], org);
    allocate(solo.pub(), users[1], org);
    {
        Agent ghost(solo.pub(), users[0].token);
        ghost.registered("ghost");
        // Its row is written just after its event (the row is what this test is about).
        ASSERT_TRUE(eventually(
            [&] {
                auto m = http("GET", solo.ports.admin, "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
                return m.body.find("switchboard_signaling_presence_rows_written_total 1") !=
                       std::string::npos;
            },
            2s));
        solo.process->signal(SIGKILL);
        solo.process->wait();
    }
    solo.start();
    EventStream events(solo.ports.admin, "peer.offline");
    Agent fresh(solo.pub(), users[1].token);
    auto answer = fresh.registered("fresh");
    ASSERT_EQ(answer["existing_peers"].Size(), 1u) << json::stringify(answer);
    EXPECT_EQ(str(answer["existing_peers"][0], "peer_id"), "ghost");
    auto gone = fresh.nextOf("peer_offline", 5s);
    ASSERT_TRUE(gone);
    EXPECT_EQ(str(*gone, "peer_id"), "ghost");
    auto event = events.next("peer.offline", "\"peer_id\":\"ghost\"");
    ASSERT_TRUE(event) << solo.process->log();
    EXPECT_NE(event->data.find("\"reason\":\"dropped\""), std::string::npos);
    HttpResult metrics = http("GET", solo.ports.admin, "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(metrics.body.find("switchboard_signaling_presence_store_errors_total 0"),
              std::string::npos)
        << solo.process->log();
    EXPECT_EQ(solo.process->log().find("cannot store"), std::string::npos) << solo.process->log();
}

}  // namespace
}  // namespace switchboard::test
