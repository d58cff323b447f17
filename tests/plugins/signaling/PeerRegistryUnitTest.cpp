// PeerRegistry with recording connections: fan-out only inside a group, one order of events,
// replacement without a flap, the grace, relay results, kicks and the per-user limit.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "PeerRegistry.h"

using namespace switchboard;
using namespace switchboard::signaling;

namespace {

/// A WebSocketConnection that records what is sent and whether it was closed.
class Recorder : public WebSocketConnection {
public:
    std::uint64_t id() const override { return 1; }
    std::string peerHost() const override { return "127.0.0.1"; }
    bool sendText(std::string_view text) override {
        std::lock_guard<std::mutex> lock(mutex);
        sent.emplace_back(text);
        return true;
    }
    void close(std::uint16_t c, const std::string&) override { code = c; }
    bool isOpen() const override { return code == 0; }
    void setData(std::shared_ptr<void>) override {}
    std::shared_ptr<void> data() const override { return nullptr; }
    CloseReason closeReason() const override { return CloseReason::Server; }

    std::mutex mutex;
    std::vector<std::string> sent;
    std::uint16_t code = 0;
};

PeerPtr peer(std::int64_t org, std::int64_t user, const std::string& id, int port = 1,
             double at = 100) {
    auto p = std::make_shared<Peer>();
    p->registeredAt = at;
    p->connectionId = id + "-" + std::to_string(port);
    p->organizationId = org;
    p->userId = user;
    p->peerId = id;
    p->agentId = id;
    p->publicIp = "203.0.113.1";
    p->publicPort = port;
    p->virtualIp = "10.0.0." + std::to_string(user);
    p->finish();
    return p;
}

struct Fixture {
    std::vector<std::string> events;
    PeerRegistry registry{
        std::chrono::milliseconds(1000), 3,
        PeerRegistry::Events{[this](const Peer& p) { events.push_back("online " + p.peerId); },
                             [this](const Peer& p, OfflineReason r) {
                                 events.push_back(std::string("offline ") + p.peerId + " " +
                                                  reasonName(r));
                             },
                             [this](const Peer& p, const std::string& node) {
                                 events.push_back("lost " + p.peerId + " of " + node);
                             }}};
    std::shared_ptr<Recorder> add(const PeerPtr& p) {
        auto conn = std::make_shared<Recorder>();
        registry.add(p, conn, [](const std::string& existing) { return "welcome " + existing; });
        return conn;
    }
};

}  // namespace

TEST(PeerRegistryUnitTest, AnnouncesInsideTheOrganizationOnly) {
    Fixture f;
    auto a = f.add(peer(1, 1, "a"));
    auto other = f.add(peer(2, 9, "z"));
    auto b = f.add(peer(1, 2, "b"));
    ASSERT_EQ(b->sent.size(), 1u);
    EXPECT_EQ(b->sent[0].rfind("welcome [{\"peer_id\":\"a\"", 0), 0u) << b->sent[0];
    ASSERT_EQ(a->sent.size(), 2u);
    EXPECT_EQ(a->sent[1].rfind("{\"type\":\"peer_online\",\"peer\":{\"peer_id\":\"b\"", 0), 0u);
    EXPECT_EQ(other->sent.size(), 1u);  // its own welcome only
    EXPECT_EQ(f.registry.size(), 3u);
    EXPECT_EQ(f.registry.onlineIn(1), 2u);

    auto pb = peer(1, 2, "b");
    f.registry.disconnected(pb, false, OfflineReason::Closed);  // not the registered object
    EXPECT_EQ(a->sent.size(), 2u);
}

TEST(PeerRegistryUnitTest, ReplacementClosesTheOldWithoutAnOfflineForTheOthers) {
    Fixture f;
    auto watcher = f.add(peer(1, 1, "w"));
    auto first = f.add(peer(1, 2, "laptop", 1000));
    auto old = peer(1, 2, "laptop", 1000);
    auto second = f.add(peer(1, 2, "laptop", 2000));
    EXPECT_EQ(first->code, 4000);
    ASSERT_EQ(watcher->sent.size(), 3u);
    EXPECT_NE(watcher->sent[2].find("\"public_port\":2000"), std::string::npos);
    EXPECT_EQ(f.events.back(), "online laptop");
    EXPECT_EQ(f.events[f.events.size() - 2], "offline laptop replaced");
    // Another user cannot take the id.
    EXPECT_THROW(f.add(peer(1, 3, "laptop")), PeerConflict);
    EXPECT_EQ(f.registry.size(), 2u);
}

TEST(PeerRegistryUnitTest, ALostPeerLingersForTheGraceThenGoesOfflineAsDropped) {
    Fixture f;
    auto watcher = f.add(peer(1, 1, "w"));
    auto p = peer(1, 2, "roamer");
    f.add(p);
    std::size_t before = watcher->sent.size();
    f.registry.disconnected(p, true, OfflineReason::Dropped);
    EXPECT_EQ(watcher->sent.size(), before);
    EXPECT_EQ(f.registry.relay(1, "w", "roamer", "{}"), PeerRegistry::RelayResult::NotConnected);
    f.registry.sweep(PeerRegistry::Clock::now() + std::chrono::milliseconds(500));
    EXPECT_EQ(watcher->sent.size(), before);
    f.registry.sweep(PeerRegistry::Clock::now() + std::chrono::milliseconds(1500));
    ASSERT_EQ(watcher->sent.size(), before + 1);
    EXPECT_EQ(
        watcher->sent.back(),
        "{\"type\":\"peer_offline\",\"peer_id\":\"roamer\",\"user_id\":2,\"virtual_ip\":\"10.0."
        "0.2\"}");
    EXPECT_EQ(f.events.back(), "offline roamer dropped");
    EXPECT_EQ(f.registry.relay(1, "w", "roamer", "{}"), PeerRegistry::RelayResult::UnknownPeer);
}

TEST(PeerRegistryUnitTest, RelaysKicksAndLimitsAgentsPerUser) {
    Fixture f;
    auto a = f.add(peer(1, 1, "a"));
    auto b = f.add(peer(1, 2, "b"));
    EXPECT_EQ(f.registry.relay(1, "a", "b", "{\"x\":1}"), PeerRegistry::RelayResult::Sent);
    EXPECT_EQ(b->sent.back(), "{\"type\":\"signal\",\"from\":\"a\",\"data\":{\"x\":1}}");
    EXPECT_EQ(f.registry.relay(2, "a", "b", "{}"), PeerRegistry::RelayResult::UnknownPeer);

    f.add(peer(1, 1, "a2"));
    f.add(peer(1, 1, "a3"));
    EXPECT_THROW(f.add(peer(1, 1, "a4")), PeerConflict);  // limit 3 per user

    EXPECT_TRUE(f.registry.kick(1, "b", OfflineReason::Closed, 4001, "kicked"));
    EXPECT_EQ(b->code, 4001);
    EXPECT_FALSE(f.registry.kick(1, "b", OfflineReason::Closed, 4001, "kicked"));
    EXPECT_EQ(f.registry.removeUser(1, 1, OfflineReason::Left, 1000, "left"), 3u);
    EXPECT_EQ(a->code, 1000);
    EXPECT_EQ(f.registry.size(), 0u);
    std::size_t total = 99;
    EXPECT_TRUE(f.registry.list(std::nullopt, 10, 0, total).empty());
    EXPECT_EQ(total, 0u);
}

TEST(PeerRegistryUnitTest, OtherNodesPeersAreListedAnnouncedAndRelayedToTheirNode) {
    Fixture f;
    auto a = f.add(peer(1, 1, "a"));
    EXPECT_TRUE(f.registry.remoteOnline(peer(1, 2, "far", 7), "nodeB"));
    EXPECT_FALSE(f.registry.remoteOnline(peer(1, 2, "far", 7), "nodeB"));  // known already
    ASSERT_EQ(a->sent.size(), 2u);
    EXPECT_EQ(a->sent[1].rfind("{\"type\":\"peer_online\",\"peer\":{\"peer_id\":\"far\"", 0), 0u);
    EXPECT_EQ(f.registry.size(), 1u);  // this node's own
    EXPECT_EQ(f.registry.onlineIn(1), 2u);
    auto b = f.add(peer(1, 3, "b"));
    EXPECT_NE(b->sent[0].find("\"peer_id\":\"far\""), std::string::npos);  // existing_peers
    std::string node;
    EXPECT_EQ(f.registry.relay(1, "a", "far", "{}", &node), PeerRegistry::RelayResult::Remote);
    EXPECT_EQ(node, "nodeB");
    EXPECT_EQ(f.registry.relay(1, "a", "far", "{}", &node, true),
              PeerRegistry::RelayResult::UnknownPeer);
    EXPECT_TRUE(f.registry.localPeers().size() == 2u);
    // Its node silent, then heard again within the grace: as it was, nothing announced.
    std::size_t seen = a->sent.size();
    EXPECT_EQ(f.registry.nodeDown("nodeB"), 1u);
    EXPECT_EQ(f.registry.relay(1, "a", "far", "{}"), PeerRegistry::RelayResult::NotConnected);
    f.registry.nodeUp("nodeB");
    EXPECT_EQ(f.registry.relay(1, "a", "far", "{}"), PeerRegistry::RelayResult::Remote);
    f.registry.sweep(PeerRegistry::Clock::now() + std::chrono::milliseconds(1500));
    EXPECT_EQ(a->sent.size(), seen);
    EXPECT_NE(f.registry.findLocal(1, "a", "a-1"), nullptr);
    EXPECT_EQ(f.registry.findLocal(1, "a", "a-2"), nullptr);
    EXPECT_EQ(f.registry.findLocal(1, "far", "far-7"), nullptr);  // another node's
    // Another user cannot take its id here either.
    EXPECT_THROW(f.add(peer(1, 9, "far")), PeerConflict);
    // An offline for another connection of it is ignored; its own connection's is not.
    EXPECT_FALSE(f.registry.remoteOffline(1, "far", "far-8"));
    EXPECT_TRUE(f.registry.remoteOffline(1, "far", "far-7"));
    EXPECT_EQ(a->sent.back(),
              "{\"type\":\"peer_offline\",\"peer_id\":\"far\",\"user_id\":2,\"virtual_ip\":\"10.0."
              "0.2\"}");
    EXPECT_EQ(f.events.back(), "online b");  // no bus event of ours for another node's peer
}

TEST(PeerRegistryUnitTest, TheNewerRegistrationOfOneAgentWinsOnEveryNode) {
    Fixture f;
    auto watcher = f.add(peer(1, 1, "w"));
    auto mine = f.add(peer(1, 2, "laptop", 1, 100));
    // An older registration elsewhere loses; a newer one replaces ours without a flap.
    EXPECT_FALSE(f.registry.remoteOnline(peer(1, 2, "laptop", 2, 99), "nodeB"));
    EXPECT_EQ(mine->code, 0);
    EXPECT_TRUE(f.registry.remoteOnline(peer(1, 2, "laptop", 3, 101), "nodeB"));
    EXPECT_EQ(mine->code, 4000);
    EXPECT_EQ(f.events.back(), "offline laptop replaced");
    EXPECT_NE(watcher->sent.back().find("\"type\":\"peer_online\""), std::string::npos);
    EXPECT_EQ(f.registry.size(), 1u);
    // Another user's id: the first registration stays, wherever it is.
    auto first = f.add(peer(1, 4, "tablet", 1, 100));
    EXPECT_FALSE(f.registry.remoteOnline(peer(1, 5, "tablet", 2, 101), "nodeB"));
    EXPECT_TRUE(f.registry.remoteOnline(peer(1, 5, "tablet", 3, 99), "nodeB"));
    EXPECT_EQ(first->code, 1008);
    EXPECT_EQ(first->sent.back(),
              "{\"error\":\"Registration failed\",\"detail\":\"agent_id tablet is registered "
              "in this organization by another user\"}");
}

TEST(PeerRegistryUnitTest, ADeadNodesPeersLingerForTheGraceAndAreLostUnlessTheyReturn) {
    Fixture f;
    auto watcher = f.add(peer(1, 1, "w"));
    f.registry.remoteOnline(peer(1, 2, "gone", 1), "dead");
    f.registry.remoteOnline(peer(1, 3, "back", 1), "dead");
    f.registry.remoteOnline(peer(1, 4, "elsewhere", 1), "alive");
    EXPECT_EQ(f.registry.nodeDown("dead"), 2u);
    EXPECT_EQ(f.registry.nodeDown("dead"), 0u);
    EXPECT_EQ(f.registry.relay(1, "w", "gone", "{}"), PeerRegistry::RelayResult::NotConnected);
    std::size_t before = watcher->sent.size();
    f.add(peer(1, 3, "back", 2, 200));  // it registers here within the grace
    EXPECT_EQ(watcher->sent.size(), before + 1);
    f.registry.sweep(PeerRegistry::Clock::now() + std::chrono::milliseconds(500));
    EXPECT_EQ(watcher->sent.size(), before + 1);
    f.registry.sweep(PeerRegistry::Clock::now() + std::chrono::milliseconds(1500));
    ASSERT_EQ(watcher->sent.size(), before + 2);
    EXPECT_NE(watcher->sent.back().find("\"peer_offline\",\"peer_id\":\"gone\""),
              std::string::npos);
    EXPECT_EQ(f.events.back(), "lost gone of dead");
    EXPECT_EQ(f.registry.onlineIn(1), 3u);  // w, back (here), elsewhere

    // A resync from the store: "elsewhere" is gone, "new" appeared.
    f.registry.resync({{peer(1, 5, "new", 1), "alive"}});
    EXPECT_EQ(f.registry.onlineIn(1), 3u);  // w, back, new
    EXPECT_EQ(f.registry.relay(1, "w", "elsewhere", "{}"), PeerRegistry::RelayResult::UnknownPeer);
    std::string node;
    EXPECT_EQ(f.registry.relay(1, "w", "new", "{}", &node), PeerRegistry::RelayResult::Remote);
    EXPECT_EQ(node, "alive");
}

TEST(PeerRegistryUnitTest, APeerRoundTripsThroughItsJson) {
    auto p = peer(3, 4, "x", 5, 1764626000.123456);
    p->relayIp = "198.51.100.1";
    p->finish();
    auto q = Peer::fromJson(3, p->json, p->connectionId, p->registeredAt);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->json, p->json);
    EXPECT_EQ(q->agentId, "x");
    EXPECT_FALSE(q->newerThan(*p));
    EXPECT_EQ(Peer::fromJson(3, "{\"peer_id\":1}", "c", 0), nullptr);
    EXPECT_EQ(Peer::fromJson(3, "not json", "c", 0), nullptr);
}
