// Auth and pairing on two nodes (ClusterSupport.h): what one node does, the other sees
// (docs/decisions.md, "Many nodes"). Runs as pg.ClusterTest.* only.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "../plugins/auth/AuthTestSupport.h"
#include "ClusterSupport.h"
#include "TestSupport.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using auth::Auth;
using auth::call;
using auth::Login;
using auth::post;

TEST_F(ClusterTest, ALoginOnAWorksOnB) {
    startCluster(auth::authPlugin());
    std::int64_t id = auth::registerUser(a.pub(), "ada@example.com", "password123", "ada");
    Login l = auth::login(a.pub(), "username", "ada", "password123");
    ASSERT_TRUE(l.ok()) << l.result.body;
    HttpResult byCookie = call("GET", b.pub(), "/me", "", {l.auth.cookie, ""});
    EXPECT_EQ(byCookie.status, 200) << byCookie.body;
    EXPECT_EQ(auth::jsonInt(byCookie.body, "id"), id);
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {"", l.auth.bearer}).status, 200);
    // And the other way round.
    Login onB = auth::login(b.pub(), "email", "ada@example.com", "password123");
    ASSERT_TRUE(onB.ok());
    EXPECT_EQ(call("GET", a.pub(), "/me", "", {onB.auth.cookie, ""}).status, 200);
}

TEST_F(ClusterTest, LogoutOnAIsRefusedOnBWithinASecond) {
    startCluster(auth::authPlugin());
    auth::registerUser(a.pub(), "bob@example.com", "password123", "bob");
    Login byCookie = auth::login(a.pub(), "username", "bob", "password123");
    Login byBearer = auth::login(a.pub(), "username", "bob", "password123");
    ASSERT_TRUE(byCookie.ok() && byBearer.ok());
    // B has both sessions in memory now.
    for (const Login* l : {&byCookie, &byBearer}) {
        ASSERT_EQ(call("GET", b.pub(), "/me", "", {l->auth.cookie, ""}).status, 200);
        ASSERT_EQ(call("GET", b.pub(), "/me", "", {"", l->auth.bearer}).status, 200);
    }
    ASSERT_EQ(post(a.pub(), "/logout", "", {byCookie.auth.cookie, ""}).status, 200);
    ASSERT_EQ(post(a.pub(), "/logout", "", {"", byBearer.auth.bearer}).status, 200);
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {byCookie.auth.cookie, ""}).status == 401;
        },
        1s));
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {"", byCookie.auth.bearer}).status == 401;
        },
        1s));
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {"", byBearer.auth.bearer}).status == 401;
        },
        1s));
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {byBearer.auth.cookie, ""}).status == 401;
        },
        1s));
}

TEST_F(ClusterTest, RevocationOnAIsRefusedOnBWithinASecond) {
    startCluster(auth::authPlugin());
    std::int64_t id = auth::registerUser(a.pub(), "cy@example.com", "password123", "cy");
    Login l = auth::login(b.pub(), "username", "cy", "password123");  // created on B
    ASSERT_TRUE(l.ok());
    ASSERT_EQ(call("GET", b.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
    // The operator revokes it on A, which knows it from a request there.
    ASSERT_EQ(call("GET", a.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
    HttpResult sessions =
        auth::admin("GET", a.ports.admin, "/sessions?user_id=" + std::to_string(id));
    ASSERT_EQ(sessions.status, 200) << sessions.body;
    std::size_t at = sessions.body.find("\"id\":\"");
    ASSERT_NE(at, std::string::npos) << sessions.body;
    std::string sid = sessions.body.substr(at + 6, 32);
    HttpResult revoked = auth::admin("DELETE", a.ports.admin, "/sessions/" + sid);
    ASSERT_EQ(revoked.status, 200) << revoked.body;
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {l.auth.cookie, ""}).status == 401;
        },
        1s));
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {"", l.auth.bearer}).status == 401;
        },
        1s));
}

TEST_F(ClusterTest, PasswordChangeOnAEndsTheOtherLoginsOnBWithinASecond) {
    startCluster(auth::authPlugin());
    auth::registerUser(a.pub(), "di@example.com", "password123", "di");
    Login current = auth::login(a.pub(), "username", "di", "password123");
    Login other = auth::login(b.pub(), "username", "di", "password123");  // only B has it
    ASSERT_TRUE(current.ok() && other.ok());
    ASSERT_EQ(call("GET", b.pub(), "/me", "", {current.auth.cookie, ""}).status, 200);
    HttpResult r = post(a.pub(), "/password/change",
                        R"({"current_password":"password123","new_password":"n3w-password"})",
                        {current.auth.cookie, ""});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {other.auth.cookie, ""}).status == 401;
        },
        1s));
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {"", other.auth.bearer}).status, 401);
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {"", current.auth.bearer}).status, 401);
    // The login that changed it stays, on both nodes.
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {current.auth.cookie, ""}).status, 200);
    EXPECT_EQ(call("GET", a.pub(), "/me", "", {current.auth.cookie, ""}).status, 200);
    EXPECT_EQ(auth::login(b.pub(), "username", "di", "password123").result.status, 401);
    EXPECT_TRUE(auth::login(b.pub(), "username", "di", "n3w-password").ok());
}

TEST_F(ClusterTest, AccountDeletionOnAIsRefusedOnBWithinASecond) {
    startCluster(auth::authPlugin());
    auth::registerUser(a.pub(), "ed@example.com", "password123", "ed");
    Login onA = auth::login(a.pub(), "username", "ed", "password123");
    Login onB = auth::login(b.pub(), "username", "ed", "password123");
    ASSERT_TRUE(onA.ok() && onB.ok());
    HttpResult r = call("DELETE", a.pub(), "/account", R"({"current_password":"password123"})",
                        {onA.auth.cookie, ""});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {onB.auth.cookie, ""}).status == 401;
        },
        1s));
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {"", onB.auth.bearer}).status, 401);
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {onA.auth.cookie, ""}).status, 401);
    EXPECT_EQ(auth::login(b.pub(), "username", "ed", "password123").result.status, 401);
}

TEST_F(ClusterTest, ConcurrentRegistrationsOfOneNameOnBothNodesGiveOneAccount) {
    startCluster(auth::authPlugin());
    for (int round = 0; round < 5; ++round) {
        std::string name = "twin" + std::to_string(round);
        std::string body = "{\"email\":\"" + name +
                           "@example.com\",\"password\":\"password123\","
                           "\"username\":\"" +
                           name + "\"}";
        std::atomic<bool> go{false};
        HttpResult ra, rb;
        std::thread ta([&] {
            while (!go) {
            }
            ra = post(a.pub(), "/register", body);
        });
        std::thread tb([&] {
            while (!go) {
            }
            rb = post(b.pub(), "/register", body);
        });
        go = true;
        ta.join();
        tb.join();
        std::multiset<int> statuses{ra.status, rb.status};
        EXPECT_EQ(statuses, (std::multiset<int>{201, 409})) << ra.body << " / " << rb.body;
    }
}

TEST_F(ClusterTest, RedisGoingAwayMakesNodesNotReadyAndTheyRecoverWithoutRestart) {
    startCluster(auth::authPlugin());
    EXPECT_EQ(http("GET", a.pub(), "/readyz").status, 200);
    redis.kill();
    EXPECT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 503; }, 5s));
    HttpResult r = http("GET", b.pub(), "/readyz");
    EXPECT_TRUE(eventually(
        [&] {
            r = http("GET", b.pub(), "/readyz");
            return r.status == 503;
        },
        5s));
    EXPECT_NE(r.body.find("\"reason\":\"bus: redis://127.0.0.1:" + std::to_string(redis.port()) +
                          " channel switchboard.events unreachable"),
              std::string::npos)
        << r.body;
    // What needs only the store keeps working.
    auth::registerUser(a.pub(), "fay@example.com", "password123", "fay");
    Login l = auth::login(a.pub(), "username", "fay", "password123");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(call("GET", b.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
    HttpResult metrics = http("GET", a.ports.admin, "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(metrics.body.find("switchboard_bus_redis_connected 0"), std::string::npos);

    redis.start();
    EXPECT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 200; }, 10s));
    EXPECT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 200; }, 10s));
    metrics = http("GET", a.ports.admin, "/metrics", "",
                   {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(metrics.body.find("switchboard_bus_redis_connected 1"), std::string::npos);
    EXPECT_NE(metrics.body.find("switchboard_bus_redis_reconnects_total "), std::string::npos);
    // Events cross again: a logout on A reaches B.
    ASSERT_EQ(post(a.pub(), "/logout", "", {l.auth.cookie, ""}).status, 200);
    EXPECT_TRUE(eventually(
        [&] {
            return call("GET", b.pub(), "/me", "", {l.auth.cookie, ""}).status == 401;
        },
        1s));
}

// ---- pairing

std::string pairingPlugin(const std::string& offlineAfter) {
    return "  pairing: { listener: pairing, offline_after: " + offlineAfter +
           ", check_interval: 100ms, rate_limit: { per_address: 0, per_network: 0, total: 0 }, "
           "registration_limit: { per_address: 0, per_network: 0 } }\n";
}

HttpResult lookup(int port, int code) {
    return http("POST", port, "/get_server_details",
                "{\"pairing_code\":" + std::to_string(code) + "}");
}

TEST_F(ClusterTest, PairingCodesAreUniqueAcrossNodesAndResolveOnEither) {
    startCluster(pairingPlugin("60s"));
    constexpr int kPerNode = 150;
    std::vector<int> codesA(kPerNode), codesB(kPerNode);
    std::thread onA([&] {
        for (int i = 0; i < kPerNode; ++i) {
            codesA[i] = registerServer(a.ports.pairing, "ssh-ed25519 A" + std::to_string(i));
        }
    });
    std::thread onB([&] {
        for (int i = 0; i < kPerNode; ++i) {
            codesB[i] = registerServer(b.ports.pairing, "ssh-ed25519 B" + std::to_string(i));
        }
    });
    onA.join();
    onB.join();
    std::set<int> all(codesA.begin(), codesA.end());
    all.insert(codesB.begin(), codesB.end());
    EXPECT_EQ(all.size(), 2u * kPerNode);
    EXPECT_EQ(all.count(0), 0u);
    for (int i = 0; i < kPerNode; i += 7) {
        for (int port : {a.ports.pairing, b.ports.pairing}) {
            EXPECT_EQ(lookup(port, codesA[i]).body,
                      serverJson("ssh-ed25519 A" + std::to_string(i)));
            EXPECT_EQ(lookup(port, codesB[i]).body,
                      serverJson("ssh-ed25519 B" + std::to_string(i)));
        }
    }
    // Re-registering on B releases the code A handed out, on both nodes.
    int fresh = registerServer(b.ports.pairing, "ssh-ed25519 A0");
    EXPECT_NE(fresh, codesA[0]);
    EXPECT_TRUE(eventually([&] { return lookup(a.ports.pairing, codesA[0]).status == 404; }, 1s));
    EXPECT_EQ(lookup(a.ports.pairing, fresh).body, serverJson("ssh-ed25519 A0"));
}

TEST_F(ClusterTest, HeartbeatsOnEitherNodeKeepAServerOnlineAndItGoesOfflineOnce) {
    startCluster(pairingPlugin("1s"));
    EventStream offlineAtA(a.ports.admin, "server.offline");
    const std::string alive = "ssh-ed25519 alive";
    const std::string silent = "ssh-ed25519 silent";
    int aliveCode = registerServer(a.ports.pairing, alive);
    registerServer(a.ports.pairing, silent);
    // Only B hears from `alive`, for well past offline_after.
    auto until = std::chrono::steady_clock::now() + 2500ms;
    while (std::chrono::steady_clock::now() < until) {
        ASSERT_EQ(serverStatus(b.ports.pairing, alive, "heartbeat").status, 200);
        std::this_thread::sleep_for(100ms);
    }
    auto event = offlineAtA.next("server.offline", "silent");
    ASSERT_TRUE(event);
    EXPECT_EQ(event->data.find("alive"), std::string::npos);
    // A still serves `alive`: its code resolves and its status is online.
    EXPECT_EQ(lookup(a.ports.pairing, aliveCode).body, serverJson(alive));
    EXPECT_NE(
        serverStatus(a.ports.pairing, alive, "get_server_status").body.find("\"online\":true"),
        std::string::npos);
    EXPECT_EQ(serverStatus(a.ports.pairing, alive, "heartbeat").status, 200);
    // `silent` went offline once cluster-wide: one node announced it.
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(occurrences(a.process->log() + b.process->log(), "1 server(s) went offline"), 1u)
        << a.process->log() << b.process->log();
    EXPECT_EQ(serverStatus(b.ports.pairing, silent, "heartbeat").status, 409);
}

}  // namespace
}  // namespace switchboard::test
