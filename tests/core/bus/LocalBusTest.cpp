// Unit tests of the in-process bus: wildcards, ordering, drop counting, failing handlers.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "TestSupport.h"
#include "bus/LocalBus.h"

using namespace switchboard;

TEST(LocalBusTest, TopicPatterns) {
    EXPECT_TRUE(topicMatches("server.online", "server.online"));
    EXPECT_FALSE(topicMatches("server.online", "server.offline"));
    EXPECT_TRUE(topicMatches("server.*", "server.online"));
    EXPECT_TRUE(topicMatches("server.*", "server.a.b"));
    EXPECT_FALSE(topicMatches("server.*", "server"));
    EXPECT_FALSE(topicMatches("server.*", "servers.online"));
    EXPECT_TRUE(topicMatches("*", "anything.at.all"));
    // internal.* topics only by their exact name: no wildcard reaches them.
    EXPECT_TRUE(topicMatches("internal.signaling.signal", "internal.signaling.signal"));
    EXPECT_FALSE(topicMatches("*", "internal.signaling.signal"));
    EXPECT_FALSE(topicMatches("internal.*", "internal.signaling.signal"));
    EXPECT_FALSE(topicMatches("internal.signaling.*", "internal.signaling.signal"));
    EXPECT_TRUE(topicMatches("*", "internals.x"));
    EXPECT_TRUE(internalTopic("internal.x"));
    EXPECT_FALSE(internalTopic("internals.x"));
}

TEST(LocalBusTest, DeliversInOrderToMatchingSubscribers) {
    LocalBus bus(100);
    std::mutex m;
    std::vector<std::string> servers, all;
    bus.subscribe("server.*", [&](const Event& e) {
        std::lock_guard<std::mutex> lock(m);
        servers.push_back(e.topic + " " + e.payload);
    });
    bus.subscribe("*", [&](const Event& e) {
        std::lock_guard<std::mutex> lock(m);
        all.push_back(e.topic);
    });
    bus.publish("server.online", "{\"a\":1}");
    bus.publish("device.online", "{}");
    bus.publish("server.offline", "{\"a\":2}");
    bus.drain();
    std::lock_guard<std::mutex> lock(m);
    EXPECT_EQ(servers,
              (std::vector<std::string>{"server.online {\"a\":1}", "server.offline {\"a\":2}"}));
    EXPECT_EQ(all, (std::vector<std::string>{"server.online", "device.online", "server.offline"}));
    EXPECT_EQ(bus.stats().published, 3u);
    EXPECT_EQ(bus.stats().delivered, 5u);
}

TEST(LocalBusTest, FullQueueDropsAndCounts) {
    LocalBus bus(4);
    std::mutex gate;
    gate.lock();  // the first delivery blocks the dispatcher until we release it
    bus.subscribe("*", [&](const Event&) { std::lock_guard<std::mutex> lock(gate); });
    for (int i = 0; i < 50; ++i) {
        bus.publish("t", "{}");
    }
    gate.unlock();
    bus.drain();
    BusStats s = bus.stats();
    EXPECT_GT(s.dropped, 0u);
    EXPECT_EQ(s.published + s.dropped, 50u);
    EXPECT_EQ(s.delivered, s.published);
}

TEST(LocalBusTest, ThrowingHandlerDoesNotStopOthers) {
    LocalBus bus(10);
    int calls = 0;
    bus.subscribe("t", [](const Event&) { throw std::runtime_error("bad subscriber"); });
    bus.subscribe("t", [&](const Event&) { ++calls; });
    bus.publish("t", "{}");
    bus.drain();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(bus.stats().handlerErrors, 1u);
}

TEST(LocalBusTest, UnsubscribeStopsDelivery) {
    LocalBus bus(10);
    int calls = 0;
    auto id = bus.subscribe("t", [&](const Event&) { ++calls; });
    bus.publish("t", "{}");
    bus.drain();
    bus.unsubscribe(id);
    bus.publish("t", "{}");
    bus.drain();
    EXPECT_EQ(calls, 1);
}

TEST(LocalBusTest, UnsubscribeWaitsForARunningHandler) {
    LocalBus bus(10);
    std::atomic<bool> inside{false};
    std::atomic<bool> finished{false};
    auto id = bus.subscribe("t", [&](const Event&) {
        inside = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        finished = true;
    });
    bus.publish("t", "{}");
    while (!inside) {
        std::this_thread::yield();
    }
    bus.unsubscribe(id);
    EXPECT_TRUE(finished.load());  // returned only once the handler was done
    bus.publish("t", "{}");
    bus.drain();
}

TEST(LocalBusTest, HandlerMayUnsubscribeItselfAndLaterSnapshotsSkipIt) {
    LocalBus bus(10);
    int calls = 0;
    std::uint64_t second = 0;
    bus.subscribe("t", [&](const Event&) { bus.unsubscribe(second); });
    second = bus.subscribe("t", [&](const Event&) { ++calls; });
    bus.publish("t", "{}");
    bus.drain();
    EXPECT_EQ(calls, 0);  // unsubscribed by the first handler of the same event
}

TEST(LocalBusTest, HandlerFailureIsLoggedOnItsOwnersLogger) {
    test::LogCapture capture("switchboard.buspluginx");
    LocalBus bus(10);
    bus.subscribeAs("buspluginx", "device.*",
                    [](const Event&) { throw std::runtime_error("cannot handle it"); });
    bus.publish("device.online", "{}");
    bus.drain();
    std::vector<std::string> lines = capture.messages();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0],
              "bus handler for 'device.online' (subscribed to 'device.*') failed: cannot handle "
              "it");
}
