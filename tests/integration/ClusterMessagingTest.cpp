// The chat on two nodes (ClusterSupport.h) over real TLS chat clients: live delivery to every
// connection of the receiver on either node, offline delivery wherever it logs in next, the
// account directory, no message bodies on the bus, and a Redis outage (docs/decisions.md,
// "Many nodes"). Runs as pg.ClusterMessagingTest.* only.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "../plugins/auth/AuthTestSupport.h"
#include "../plugins/messaging/ChatTestSupport.h"
#include "ClusterSupport.h"
#include "TestSupport.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using chat::ChatClient;
using chat::Frame;
using chat::msg;

chat::SslInit sslInit;

class ClusterMessagingTest : public ClusterTest {
protected:
    /// Nodes a and b with auth and messaging (no per-account message limit), each with its
    /// TLS chat listener, on one store and one Redis.
    void startChat(const std::string& extra = "") {
        ASSERT_EQ(testBackend(), "postgresql") << "Cluster tests run as pg.Cluster*Test.*";
        std::string url = storeUrl(_shared);
        for (Node* n : {&a, &b}) {
            std::string yaml =
                configYaml(n->dir, n->ports, chat::chatPlugins(", rate_limit: { messages: 0 }"),
                           "bus: { url: \"" + redis.url() + "\" }\n" + extra);
            yaml.insert(yaml.find("admin: { token"),
                        "  chat: { bind: 127.0.0.1, port: " + std::to_string(n->ports.chat) +
                            ", protocol: stream, tls: { cert: var/tls/cert.pem, key: "
                            "var/tls/key.pem } }\n");
            n->yaml = withStore(yaml, url);
        }
        a.start();
        b.start();
    }
    /// REG over the chat on `node`; expects ACK.
    static void registerOn(Node& node, const std::string& login) {
        ChatClient c(node.ports.chat);
        c.send(chat::REG, "{\"login\":\"" + login + "\",\"password\":\"password123\",\"email\":\"" +
                              login + "@example.com\"}");
        Frame f = c.read();
        EXPECT_EQ(f.type, chat::ACK) << "REG " << login << ": " << f.payload;
    }
    /// A client of `node` logged in as `login` (password123).
    static std::unique_ptr<ChatClient> loginOn(Node& node, const std::string& login) {
        auto c = std::make_unique<ChatClient>(node.ports.chat);
        EXPECT_TRUE(c->login(login, "password123"));
        return c;
    }
    /// The texts of the next `count` MSG frames on `c` (fewer if they stop coming).
    static std::vector<std::string> texts(ChatClient& c, std::size_t count) {
        std::vector<std::string> out;
        while (out.size() < count) {
            Frame f = c.read(5s);
            if (f.type == -1) {
                break;
            }
            EXPECT_EQ(f.type, chat::MSG) << f.payload;
            if (f.type == chat::MSG) {
                out.push_back(f.str("msg"));
            }
        }
        return out;
    }
    static std::vector<std::string> numbered(const std::string& prefix, int count) {
        std::vector<std::string> out;
        for (int i = 0; i < count; ++i) {
            out.push_back(prefix + std::to_string(i));
        }
        return out;
    }
    /// Sends each text to `to` and expects its ACK.
    static void sendAll(ChatClient& from, const std::string& to,
                        const std::vector<std::string>& all) {
        for (const auto& text : all) {
            from.send(chat::MSG, msg(to, text));
            ASSERT_EQ(from.read().type, chat::ACK) << text;
        }
    }
    /// Waits until `node`'s writer has marked delivered what its connections got from another
    /// node: it marks right after the sends, so one more message through it, to an account
    /// logged in there, arrives after that mark is committed (one writer, batch after batch).
    /// A login elsewhere then finds nothing left to drain.
    void settle(ChatClient& sender, Node& node) {
        std::string name = "settle" + std::to_string(++_settles);
        registerOn(node, name);
        auto c = loginOn(node, name);
        sendAll(sender, name, {"settled"});
        EXPECT_EQ(texts(*c, 1), (std::vector<std::string>{"settled"}));
    }
    int _settles = 0;
    /// LIS{} on `c`: every login listed.
    static std::vector<std::string> list(ChatClient& c) {
        c.send(chat::LIS, "{}");
        return c.readList();
    }
};

TEST_F(ClusterMessagingTest, AMessageReachesEveryConnectionOfTheReceiverOnBothNodesOnce) {
    startChat();
    registerOn(a, "alice");
    registerOn(b, "bob");
    auto alice = loginOn(a, "alice");
    auto bobA = loginOn(a, "bob");
    auto bobB1 = loginOn(b, "bob");
    auto bobB2 = loginOn(b, "bob");
    auto fromA = numbered("from a ", 20);
    sendAll(*alice, "bob", fromA);
    for (ChatClient* c : {bobA.get(), bobB1.get(), bobB2.get()}) {
        EXPECT_EQ(texts(*c, fromA.size()), fromA);
    }
    // And from a sender on B (the receiver is on both nodes again).
    auto aliceB = loginOn(b, "alice");
    auto fromB = numbered("from b ", 5);
    sendAll(*aliceB, "bob", fromB);
    for (ChatClient* c : {bobA.get(), bobB1.get(), bobB2.get()}) {
        EXPECT_EQ(texts(*c, fromB.size()), fromB);
        EXPECT_EQ(c->read(300ms).type, -1) << "a message came twice";
    }
    // Every message reached a live connection: the next login, on either node, brings none.
    EXPECT_EQ(loginOn(a, "bob")->read(300ms).type, -1);
    EXPECT_EQ(loginOn(b, "bob")->read(300ms).type, -1);

    // A receiver connected to B only: B delivers what A stored and marks it delivered.
    registerOn(a, "carol");
    auto carolB = loginOn(b, "carol");
    auto onlyB = numbered("to b only ", 5);
    sendAll(*alice, "carol", onlyB);
    EXPECT_EQ(texts(*carolB, onlyB.size()), onlyB);
    settle(*alice, b);
    EXPECT_EQ(loginOn(a, "carol")->read(300ms).type, -1);
}

TEST_F(ClusterMessagingTest, OfflineMessagesArriveWhicheverNodeTheReceiverLogsInTo) {
    startChat();
    registerOn(a, "alice");
    registerOn(b, "eve");
    registerOn(a, "dan");
    {
        auto alice = loginOn(a, "alice");
        auto eve = loginOn(b, "eve");
        sendAll(*alice, "dan", numbered("via a ", 3));
        sendAll(*eve, "dan", numbered("via b ", 3));
    }
    auto expected = numbered("via a ", 3);
    for (const auto& t : numbered("via b ", 3)) {
        expected.push_back(t);
    }
    {
        auto dan = loginOn(b, "dan");  // oldest first, whichever node stored them
        EXPECT_EQ(texts(*dan, 6), expected);
        EXPECT_EQ(dan->read(300ms).type, -1);
    }
    EXPECT_EQ(loginOn(a, "dan")->read(300ms).type, -1);  // delivered once, cluster-wide
    // The other way round: stored on B, taken on A.
    {
        auto eve = loginOn(b, "eve");
        sendAll(*eve, "dan", numbered("later ", 2));
    }
    EXPECT_EQ(texts(*loginOn(a, "dan"), 2), numbered("later ", 2));
    EXPECT_EQ(loginOn(b, "dan")->read(300ms).type, -1);
}

TEST_F(ClusterMessagingTest, HistoryHasTheMessagesOfBothNodesInTheOrderTheyWereSent) {
    startChat();
    registerOn(a, "alice");
    registerOn(b, "otto");
    auto alice = loginOn(a, "alice");
    auto otto = loginOn(b, "otto");
    std::vector<std::string> sent;
    for (int i = 0; i < 8; ++i) {  // a conversation: each message answers the one before
        std::string fromAlice = "alice " + std::to_string(i);
        std::string fromOtto = "otto " + std::to_string(i);
        sendAll(*alice, "otto", {fromAlice});
        ASSERT_EQ(texts(*otto, 1), (std::vector<std::string>{fromAlice}));
        sendAll(*otto, "alice", {fromOtto});
        ASSERT_EQ(texts(*alice, 1), (std::vector<std::string>{fromOtto}));
        sent.push_back(fromAlice);
        sent.push_back(fromOtto);
    }
    for (ChatClient* c : {alice.get(), otto.get()}) {
        c->send(chat::UPD,
                std::string("{\"reciever\":\"") + (c == alice.get() ? "otto" : "alice") + "\"}");
        Frame his = c->expect(chat::HIS);
        rapidjson::Document d = his.json();
        ASSERT_TRUE(d.IsObject() && d.HasMember("history") && d["history"].IsArray())
            << his.payload;
        std::vector<std::string> history;
        for (const auto& m : d["history"].GetArray()) {
            history.push_back(m["msg"].GetString());
        }
        EXPECT_EQ(history, sent);
    }
}

TEST_F(ClusterMessagingTest, ALoginOnBWhileAStoresMessagesGetsEachExactlyOnceInOrder) {
    startChat();
    registerOn(a, "alice");
    registerOn(a, "fay");
    auto alice = loginOn(a, "alice");
    constexpr int kCount = 150;
    for (int round = 0; round < 4; ++round) {
        std::string prefix = "round " + std::to_string(round) + " #";
        std::atomic<int> acked{0};
        std::thread sender([&] {
            for (int i = 0; i < kCount; ++i) {
                alice->send(chat::MSG, msg("fay", prefix + std::to_string(i)));
                if (alice->read().type == chat::ACK) {
                    ++acked;
                }
            }
        });
        // Log in on B while A goes on storing: some messages are stored before the login and
        // taken by its drain, the rest come live from A's announcements; none twice.
        ASSERT_TRUE(eventually([&] { return acked.load() >= kCount / 4 * (round % 3 + 1); }, 10s));
        auto fay = loginOn(b, "fay");
        auto got = texts(*fay, kCount);
        sender.join();
        EXPECT_EQ(acked.load(), kCount);
        EXPECT_EQ(got, numbered(prefix, kCount)) << "round " << round;
        EXPECT_EQ(fay->read(300ms).type, -1) << "round " << round << ": a message came twice";
    }
    // Nothing was left undelivered, on either node.
    settle(*alice, b);
    EXPECT_EQ(loginOn(a, "fay")->read(300ms).type, -1);
    EXPECT_EQ(loginOn(b, "fay")->read(300ms).type, -1);
}

TEST_F(ClusterMessagingTest, TwoLoginsOnBothNodesAtOnceShareTheBacklogWithoutDoubles) {
    startChat();
    registerOn(a, "alice");
    registerOn(a, "pat");
    auto alice = loginOn(a, "alice");
    constexpr int kCount = 450;  // more than one drain chunk (200)
    for (int round = 0; round < 3; ++round) {
        std::string prefix = "backlog " + std::to_string(round) + " #";
        auto all = numbered(prefix, kCount);
        // Pipelined, stored in a few batches: 150 at a time, below the 256 frames a connection
        // may have waiting while its login's work (the backlog drain) still runs (more is
        // "Too many requests waiting" and a DIS, which the first round met now and then).
        for (int from = 0; from < kCount; from += 150) {
            for (int i = from; i < std::min(kCount, from + 150); ++i) {
                alice->send(chat::MSG, msg("pat", all[i]));
            }
            for (int i = from; i < std::min(kCount, from + 150); ++i) {
                ASSERT_EQ(alice->read().type, chat::ACK) << i;
            }
        }
        // Both drains read the same undelivered rows; each row goes to the one that took it.
        std::vector<std::string> got[2];
        std::atomic<int> ready{0};
        auto take = [&](Node& node, std::vector<std::string>& out) {
            ChatClient c(node.ports.chat);
            ++ready;
            while (ready.load() < 2) {
            }
            if (!c.login("pat", "password123")) {
                return;
            }
            for (Frame f = c.read(1s); f.type != -1; f = c.read(1s)) {
                EXPECT_EQ(f.type, chat::MSG) << f.payload;
                out.push_back(f.str("msg"));
            }
        };
        std::thread onA([&] { take(a, got[0]); });
        std::thread onB([&] { take(b, got[1]); });
        onA.join();
        onB.join();
        std::vector<std::string> both;
        for (auto& part : got) {
            EXPECT_TRUE(std::is_sorted(part.begin(), part.end(),
                                       [&](const auto& x, const auto& y) {
                                           return std::stoi(x.substr(prefix.size())) <
                                                  std::stoi(y.substr(prefix.size()));
                                       }))
                << "round " << round << ": out of order";
            both.insert(both.end(), part.begin(), part.end());
        }
        std::sort(both.begin(), both.end());
        std::sort(all.begin(), all.end());
        EXPECT_EQ(both, all) << "round " << round << ": A got " << got[0].size() << ", B got "
                             << got[1].size();
    }
}

TEST_F(ClusterMessagingTest, AccountsRegisteredOnBCanBeMessagedFromAAtOnceAndAppearInLis) {
    startChat();
    registerOn(a, "alice");
    auto alice = loginOn(a, "alice");
    EXPECT_EQ(alice->users, (std::vector<std::string>{"alice"}));
    registerOn(b, "gina");  // chat REG on B
    HttpResult r = http("POST", b.pub(), "/register",
                        "{\"email\":\"hank@example.com\",\"password\":\"password123\","
                        "\"username\":\"hank\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    // At once: no waiting for the directory to learn of them.
    alice->send(chat::MSG, msg("gina", "hi gina"));
    alice->expect(chat::ACK);
    alice->send(chat::MSG, msg("hank", "hi hank"));
    alice->expect(chat::ACK);
    EXPECT_TRUE(eventually(
        [&] {
            return list(*alice) == std::vector<std::string>{"alice", "gina", "hank"};
        },
        1s));
    EXPECT_EQ(loginOn(a, "alice")->users, (std::vector<std::string>{"alice", "gina", "hank"}));
    EXPECT_EQ(texts(*loginOn(b, "gina"), 1), (std::vector<std::string>{"hi gina"}));
    EXPECT_EQ(texts(*loginOn(a, "hank"), 1), (std::vector<std::string>{"hi hank"}));
}

TEST_F(ClusterMessagingTest, AnAccountDeletedOnAIsClosedOnBAndStopsBeingAReceiver) {
    startChat();
    registerOn(a, "alice");
    registerOn(a, "ivan");
    auto aliceB = loginOn(b, "alice");
    auto ivanB = loginOn(b, "ivan");
    auto ivanA = loginOn(a, "ivan");
    ivanA->send(chat::DEL, "{}");
    ivanA->expect(chat::ACK);
    ivanA->expect(chat::DIS);
    Frame gone = ivanB->expect(chat::DIS, 1s);
    EXPECT_EQ(gone.str("msg"), "Account deleted");
    EXPECT_TRUE(ivanB->closedWithin(1s));
    aliceB->send(chat::MSG, msg("ivan", "still there?"));
    aliceB->expectError("Unknown user: ivan");
    EXPECT_EQ(list(*aliceB), (std::vector<std::string>{"alice"}));

    // Deleted over HTTP on A.
    HttpResult r = http("POST", a.pub(), "/register",
                        "{\"email\":\"jill@example.com\",\"password\":\"password123\","
                        "\"username\":\"jill\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    auto jillB = loginOn(b, "jill");
    auth::Login l = auth::login(a.pub(), "username", "jill", "password123");
    ASSERT_TRUE(l.ok()) << l.result.body;
    HttpResult del = auth::call("DELETE", a.pub(), "/account",
                                R"({"current_password":"password123"})", {l.auth.cookie, ""});
    ASSERT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(jillB->expect(chat::DIS, 1s).str("msg"), "Account deleted");
    EXPECT_TRUE(jillB->closedWithin(1s));
    aliceB->send(chat::MSG, msg("jill", "hello?"));
    aliceB->expectError("Unknown user: jill");
}

TEST_F(ClusterMessagingTest, APasswordChangeOnABehavesAsOnOneNode) {
    startChat();
    registerOn(a, "alice");
    registerOn(a, "kate");
    auto kateA = loginOn(a, "kate");
    auto kateB = loginOn(b, "kate");
    kateA->send(chat::CHP, "{\"password\":\"n3w-password\"}");
    kateA->expect(chat::ACK);
    ChatClient old(b.ports.chat);
    old.send(chat::LOG, "{\"login\":\"kate\",\"password\":\"password123\"}");
    old.expectError("Invalid credentials.");
    ChatClient fresh(b.ports.chat);
    EXPECT_TRUE(fresh.login("kate", "n3w-password"));
    // The connections that were logged in stay, as on one node, and still receive.
    auto alice = loginOn(a, "alice");
    sendAll(*alice, "kate", {"after the change"});
    for (ChatClient* c : {kateA.get(), kateB.get(), &fresh}) {
        EXPECT_EQ(texts(*c, 1), (std::vector<std::string>{"after the change"}));
    }
}

TEST_F(ClusterMessagingTest, NoMessageBodyGoesOnTheBus) {
    // Every event either node's Lua sees, including those from the other node, is logged.
    TempDir scripts;
    std::string hook = scripts.write("events.lua",
                                     "bus.subscribe(\"*\")\n"
                                     "function on_event(topic, payload)\n"
                                     "  log.info(\"on_event \" .. topic .. \" \" .. "
                                     "json.encode(payload))\n"
                                     "end\n");
    startChat("lua: { scripts: [" + hook + "] }\n");
    registerOn(a, "alice");
    registerOn(a, "lena");
    EventStream stored(b.ports.admin, "chat.*");
    auto lena = loginOn(b, "lena");
    auto alice = loginOn(a, "alice");
    sendAll(*alice, "lena", {"top-secret-body-42"});
    EXPECT_EQ(texts(*lena, 1), (std::vector<std::string>{"top-secret-body-42"}));
    auto event = stored.next("chat.stored");
    ASSERT_TRUE(event);
    EXPECT_EQ(event->data.rfind("{\"messages\":[{\"id\":", 0), 0u) << event->data;
    EXPECT_NE(event->data.find("\"receiver_id\":"), std::string::npos) << event->data;
    EXPECT_EQ(event->data.find("top-secret"), std::string::npos) << event->data;
    // B's Lua saw A's announcement; no event on either node carried the text.
    EXPECT_TRUE(eventually(
        [&] { return b.process->log().find("on_event chat.stored {") != std::string::npos; }, 5s))
        << b.process->log();
    EXPECT_GE(occurrences(a.process->log() + b.process->log(), "on_event chat."), 4u);
    EXPECT_EQ(occurrences(a.process->log() + b.process->log(), "top-secret"), 0u);
}

TEST_F(ClusterMessagingTest, MessagesSentWhileRedisIsAwayArriveAtTheNextLogin) {
    startChat();
    registerOn(a, "alice");
    registerOn(a, "mia");
    registerOn(a, "kim");
    auto alice = loginOn(a, "alice");
    auto miaB = loginOn(b, "mia");
    auto kimB = loginOn(b, "kim");
    redis.kill();
    EXPECT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 503; }, 5s));
    EXPECT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 503; }, 5s));
    // The store still works: messages are stored (ACK), but A's announcement is lost, so
    // mia's connection on B does not get them live; they stay undelivered in the store.
    auto meanwhile = numbered("meanwhile ", 3);
    sendAll(*alice, "mia", meanwhile);
    registerOn(b, "noel");
    {
        auto kimA = loginOn(a, "kim");
        kimA->send(chat::DEL, "{}");
        kimA->expect(chat::ACK);
    }
    EXPECT_EQ(miaB->read(300ms).type, -1);

    redis.start();
    EXPECT_TRUE(eventually([&] { return http("GET", a.pub(), "/readyz").status == 200; }, 10s));
    EXPECT_TRUE(eventually([&] { return http("GET", b.pub(), "/readyz").status == 200; }, 10s));
    // The directories are reloaded: B closes the account deleted meanwhile, A lists noel.
    Frame gone = kimB->expect(chat::DIS, 5s);
    EXPECT_EQ(gone.str("msg"), "Account deleted");
    EXPECT_TRUE(eventually(
        [&] {
            return list(*alice) == std::vector<std::string>{"alice", "mia", "noel"};
        },
        5s));
    // Nothing was lost: the next login of mia, on B, gets them once, in order.
    auto miaB2 = loginOn(b, "mia");
    EXPECT_EQ(texts(*miaB2, meanwhile.size()), meanwhile);
    EXPECT_EQ(miaB2->read(300ms).type, -1);
    // Announcements cross again: both of mia's connections get the next one live.
    sendAll(*alice, "mia", {"back again"});
    EXPECT_EQ(texts(*miaB2, 1), (std::vector<std::string>{"back again"}));
    EXPECT_EQ(texts(*miaB, 1), (std::vector<std::string>{"back again"}));
    settle(*alice, b);
    EXPECT_EQ(loginOn(a, "mia")->read(300ms).type, -1);
}

}  // namespace
}  // namespace switchboard::test
