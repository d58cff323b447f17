// The Redis-shared bus against a real redis-server on loopback: two buses in one process stand
// for two nodes. Cross-node delivery with the origin, a node ignoring its own events, drops
// while Redis is away, reconnect with backoff and /readyz's view (ready()), URL errors.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "TestSupport.h"
#include "bus/RedisBus.h"

using namespace switchboard;
using switchboard::test::eventually;
using switchboard::test::RedisServer;

namespace {

struct Inbox {
    std::mutex m;
    std::vector<Event> events;
    void add(const Event& e) {
        std::lock_guard<std::mutex> lock(m);
        events.push_back(e);
    }
    std::size_t count(const std::string& topic) {
        std::lock_guard<std::mutex> lock(m);
        std::size_t n = 0;
        for (const Event& e : events) {
            n += e.topic == topic ? 1 : 0;
        }
        return n;
    }
    std::vector<Event> copy() {
        std::lock_guard<std::mutex> lock(m);
        return events;
    }
};

std::string busError(const std::string& url) {
    try {
        Bus::open(url, 16);
    } catch (const BusError& e) {
        return e.what();
    }
    return "<no BusError>";
}

}  // namespace

TEST(RedisBusTest, EventsCrossNodesTaggedWithTheOriginAndANodeIgnoresItsOwn) {
    RedisServer redis;
    Inbox atA, atB;  // before the buses: destroyed after their threads stop
    RedisBus a(RedisUrl::parse(redis.url()), 1000);
    RedisBus b(RedisUrl::parse(redis.url()), 1000);
    std::string reason;
    ASSERT_TRUE(a.ready(reason)) << reason;
    ASSERT_TRUE(b.ready(reason)) << reason;
    EXPECT_NE(a.nodeId(), b.nodeId());
    EXPECT_EQ(a.nodeId().size(), 12u);
    a.subscribe("device.*", [&](const Event& e) { atA.add(e); });
    b.subscribe("device.*", [&](const Event& e) { atB.add(e); });

    for (int i = 0; i < 50; ++i) {
        a.publish("device.online", "{\"n\":" + std::to_string(i) + "}");
    }
    b.publish("device.offline", "{\"from\":\"b\"}");
    ASSERT_TRUE(eventually([&] { return atB.count("device.online") == 50; }));
    ASSERT_TRUE(eventually([&] { return atA.count("device.offline") == 1; }));
    // Each node's own events reach its subscribers once (locally, origin ""), never again
    // from Redis.
    ASSERT_TRUE(eventually([&] { return a.redisStats().own == 50; }));
    EXPECT_EQ(atA.count("device.online"), 50u);
    EXPECT_EQ(atB.count("device.offline"), 1u);
    auto eventsAtB = atB.copy();
    int n = 0;
    for (const Event& e : eventsAtB) {
        if (e.topic == "device.online") {
            EXPECT_EQ(e.origin, a.nodeId());
            EXPECT_EQ(e.payload, "{\"n\":" + std::to_string(n++) + "}");  // in order
        } else {
            EXPECT_EQ(e.origin, "");
        }
    }
    for (const Event& e : atA.copy()) {
        EXPECT_EQ(e.origin, e.topic == "device.offline" ? b.nodeId() : "");
    }
    EXPECT_EQ(a.redisStats().sent, 50u);
    EXPECT_EQ(b.redisStats().received, 50u);
    EXPECT_EQ(a.redisStats().received, 1u);
    EXPECT_EQ(a.redisStats().dropped, 0u);
    a.stop();
    b.stop();
}

TEST(RedisBusTest, RedisGoingAwayDropsAndCountsThenBothNodesReconnect) {
    RedisServer redis;
    Inbox atA, atB;  // before the buses: destroyed after their threads stop
    RedisBus a(RedisUrl::parse(redis.url()), 1000);
    RedisBus b(RedisUrl::parse(redis.url()), 1000);
    b.subscribe("*", [&](const Event& e) { atB.add(e); });
    std::string reason;
    ASSERT_TRUE(a.ready(reason));

    redis.kill();
    ASSERT_TRUE(
        eventually([&] { return !a.ready(reason) && !b.ready(reason); }, std::chrono::seconds(5)));
    EXPECT_NE(reason.find("bus: redis://127.0.0.1:" + std::to_string(redis.port()) +
                          " channel switchboard.events unreachable"),
              std::string::npos)
        << reason;
    // Published while Redis is away: delivered on this node, dropped for the others, counted.
    a.subscribe("x.*", [&](const Event& e) { atA.add(e); });
    a.publish("x.lost", "{}");
    ASSERT_TRUE(eventually([&] { return atA.count("x.lost") == 1; }));
    // Dropped at once if the publisher knows Redis is gone, else when its PUBLISH fails.
    EXPECT_TRUE(eventually([&] { return a.redisStats().dropped >= 1; }, std::chrono::seconds(5)));
    EXPECT_GE(a.stats().dropped, 1u);

    redis.start();
    ASSERT_TRUE(
        eventually([&] { return a.ready(reason) && b.ready(reason); }, std::chrono::seconds(10)))
        << reason;
    EXPECT_GE(a.redisStats().reconnects, 1u);
    EXPECT_GE(b.redisStats().reconnects, 1u);
    // The subscriber tells its node's plugins that events may have been missed.
    ASSERT_TRUE(eventually([&] { return atB.count("bus.reconnected") == 1; }));
    a.publish("x.after", "{}");
    ASSERT_TRUE(eventually([&] { return atB.count("x.after") == 1; }));
    EXPECT_EQ(atB.count("x.lost"), 0u);
}

TEST(RedisBusTest, StartsNotReadyWithoutRedisAndBecomesReadyWhenItAppears) {
    int port = switchboard::test::freePort();
    RedisBus a(RedisUrl::parse("redis://127.0.0.1:" + std::to_string(port)), 100,
               std::chrono::milliseconds(100));
    std::string reason;
    EXPECT_FALSE(a.ready(reason));
    EXPECT_NE(reason.find("unreachable"), std::string::npos) << reason;
    RedisServer redis(port);
    EXPECT_TRUE(eventually([&] { return a.ready(reason); }, std::chrono::seconds(10))) << reason;
    a.stop();  // returns promptly (the reader polls)
}

TEST(RedisBusTest, ChannelsSeparateClusters) {
    RedisServer redis;
    Inbox atB, atC;  // before the buses: destroyed after their threads stop
    RedisBus a(RedisUrl::parse(redis.url() + "?channel=one"), 100);
    RedisBus b(RedisUrl::parse(redis.url() + "?channel=two"), 100);
    RedisBus c(RedisUrl::parse(redis.url() + "?channel=one"), 100);
    b.subscribe("*", [&](const Event& e) { atB.add(e); });
    c.subscribe("*", [&](const Event& e) { atC.add(e); });
    a.publish("t.x", "{}");
    ASSERT_TRUE(eventually([&] { return atC.count("t.x") == 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(atB.count("t.x"), 0u);
}

TEST(RedisBusTest, BadUrlsAreRefusedNamingThePart) {
    EXPECT_EQ(busError("nats://x"), "bus.url: expected local or redis://host:port, got 'nats://x'");
    EXPECT_EQ(busError("redis://"),
              "bus.url: redis URL names no host (expected redis://host:port)");
    EXPECT_EQ(busError("redis://h:0"),
              "bus.url: the port must be a number from 1 to 65535, got '0'");
    EXPECT_EQ(busError("redis://:pw@h:6379/2"),
              "bus.url: a path (database number) means nothing for pub/sub in 'redis://h:6379/2'; "
              "use redis://host:port");
    EXPECT_EQ(busError("redis://h?db=1"),
              "bus.url: unknown parameter 'db' (known: channel, node_timeout)");
    EXPECT_EQ(busError("redis://h?node_timeout=5"),
              "bus.url: node_timeout must be a duration from 100ms to 600s (e.g. 2s or 500ms), "
              "got '5'");
    EXPECT_EQ(busError("redis://h?node_timeout=50ms"),
              "bus.url: node_timeout must be a duration from 100ms to 600s (e.g. 2s or 500ms), "
              "got '50ms'");
    EXPECT_EQ(RedisUrl::parse("redis://h?node_timeout=3s").nodeTimeout.count(), 3000);
    EXPECT_EQ(RedisUrl::parse("redis://h?node_timeout=250ms").nodeTimeout.count(), 250);
    EXPECT_EQ(RedisUrl::parse("redis://h").nodeTimeout.count(), 2000);
    EXPECT_EQ(busError("redis://h?channel="),
              "bus.url: channel must be 1 to 200 characters without spaces");
    RedisUrl u = RedisUrl::parse("redis://:s%40cret@cache.example:7000?channel=sb");
    EXPECT_EQ(u.host, "cache.example");
    EXPECT_EQ(u.port, 7000);
    EXPECT_EQ(u.password, "s@cret");
    EXPECT_EQ(u.channel, "sb");
    EXPECT_EQ(u.location(), "redis://cache.example:7000 channel sb");
    EXPECT_EQ(RedisUrl::parse("redis://h").port, 6379);
}

TEST(RedisBusTest, NodesAreUpWhenHeardAndDownWhenSilentPastTheTimeout) {
    RedisServer redis;
    std::string url = redis.url() + "?node_timeout=400ms";
    Inbox atA;  // before the buses: destroyed after their threads stop
    RedisBus a(RedisUrl::parse(url), 100);
    a.subscribe("bus.*", [&](const Event& e) { atA.add(e); });
    // A node that sends nothing but its heartbeats is heard, and announced once.
    auto b = std::make_unique<RedisBus>(RedisUrl::parse(url), 100);
    std::string bId = b->nodeId();
    ASSERT_TRUE(eventually([&] { return atA.count("bus.node_up") == 1; }));
    EXPECT_EQ(atA.copy()[0].payload, "{\"node\":\"" + bId + "\"}");
    EXPECT_EQ(a.redisStats().nodesUp, 1u);
    // Heartbeats are neither delivered nor counted as events.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(atA.count("bus.node_down"), 0u);
    EXPECT_EQ(a.redisStats().received, 0u);
    EXPECT_EQ(b->redisStats().sent, 0u);
    EXPECT_EQ(b->redisStats().own, 0u);

    // B stops sending (as after kill -9): down once, after the timeout.
    auto stopped = std::chrono::steady_clock::now();
    b->stop();
    ASSERT_TRUE(eventually([&] { return atA.count("bus.node_down") == 1; }));
    auto detected = std::chrono::steady_clock::now() - stopped;
    EXPECT_GE(detected, std::chrono::milliseconds(250));  // the last heartbeat may be 100 ms old
    auto down = atA.copy().back();
    EXPECT_EQ(down.payload.find("{\"node\":\"" + bId + "\",\"silent_ms\":"), 0u) << down.payload;
    EXPECT_EQ(a.redisStats().nodesUp, 0u);

    // A node only known from elsewhere (watchNode) and never heard goes down too; A itself
    // and "" are ignored.
    a.watchNode("feedfacecafe");
    a.watchNode(a.nodeId());
    a.watchNode("");
    ASSERT_TRUE(eventually([&] { return atA.count("bus.node_down") == 2; }));
    EXPECT_EQ(atA.copy().back().payload.find("{\"node\":\"feedfacecafe\""), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(atA.count("bus.node_down"), 2u);
    EXPECT_EQ(atA.count("bus.node_up"), 1u);
}
