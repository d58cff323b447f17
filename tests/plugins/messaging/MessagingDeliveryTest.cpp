// Durability, offline delivery, the 64 KiB frame limit and hostile peers, against the real
// binary over real TLS.
#include <thread>

#include "ChatTestSupport.h"

using namespace switchboard::test;
using namespace switchboard::test::chat;

namespace {

SslInit sslInit;

TEST(MessagingDeliveryTest, OfflineMessagesArriveAfterTheNextLoginAcrossARestart) {
    ChatServer server;
    server.registerUser("alice");
    server.registerUser("bob");
    {
        ChatClient alice(server.chat());
        ASSERT_TRUE(alice.login("alice", "password123"));
        for (int i = 0; i < 3; ++i) {
            alice.send(MSG, msg("bob", "while you were away " + std::to_string(i)));
            alice.expect(ACK);
        }
    }
    server.restart();
    ChatClient bob(server.chat());
    ASSERT_TRUE(bob.login("bob", "password123"));  // SES, then LIS ...
    for (int i = 0; i < 3; ++i) {                  // ... then the stored messages, in order
        Frame f = bob.expect(MSG);
        EXPECT_EQ(f.str("msg"), "while you were away " + std::to_string(i));
        EXPECT_EQ(f.str("sender"), "alice");
    }
    // Delivered once: the next login brings nothing.
    bob.send(DIS, "{}");
    ChatClient again(server.chat());
    ASSERT_TRUE(again.login("bob", "password123"));
    EXPECT_EQ(again.read(500ms).type, -1);
}

TEST(MessagingDeliveryTest, KillNineAfterAckNeverLosesTheMessage) {
    ChatServer server;
    server.registerUser("carl");
    server.registerUser("dina");
    constexpr int kCount = 200;
    {
        ChatClient carl(server.chat());
        ASSERT_TRUE(carl.login("carl", "password123"));
        for (int i = 0; i < kCount; ++i) {  // pipelined: many in one batch
            carl.send(MSG, msg("dina", "durable " + std::to_string(i)));
        }
        for (int i = 0; i < kCount; ++i) {
            ASSERT_EQ(carl.read().type, ACK) << i;
        }
        server.process->signal(SIGKILL);  // at once after the last ACK
        server.process->wait();
    }
    server.start();
    ChatClient dina(server.chat());
    ASSERT_TRUE(dina.login("dina", "password123"));
    for (int i = 0; i < kCount; ++i) {
        Frame f = dina.expect(MSG);
        ASSERT_EQ(f.str("msg"), "durable " + std::to_string(i));
    }
}

TEST(MessagingDeliveryTest, AMessageTooLongToDeliverIsRefused) {
    ChatServer server;
    server.registerUser("eve");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("eve", "password123"));
    // Fits a frame as sent, but not once sender and ts are added.
    std::string text(65535 - 40, 'x');
    c.send(MSG, msg("eve", text));
    Frame f = c.expect(ERR);
    EXPECT_EQ(f.str("msg").rfind("Message too long: delivered it would be ", 0), 0u)
        << f.payload.substr(0, 200);
    // Escaping counts: 20,000 quotes are 40,000 bytes delivered.
    std::string quotes;
    for (int i = 0; i < 20000; ++i) {
        quotes += "\\\"";
    }
    c.send(MSG, msg("eve", quotes));
    c.expect(ACK);
    EXPECT_EQ(c.expect(MSG).str("msg"), std::string(20000, '"'));
    // The largest that fits is delivered whole.
    std::string most(65471 - 60, 'y');
    c.send(MSG, msg("eve", most));
    Frame ok = c.read();
    if (ok.type == ACK) {
        EXPECT_EQ(c.expect(MSG).str("msg"), most);
    } else {
        EXPECT_EQ(ok.type, ERR) << ok.payload.substr(0, 100);
    }
}

TEST(MessagingDeliveryTest, LongHistorySpansSeveralFrames) {
    ChatServer server(chatPlugins(", history_limit: 10"));
    server.registerUser("finn");
    server.registerUser("gwen");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("finn", "password123"));
    for (int i = 0; i < 10; ++i) {
        c.send(MSG, msg("gwen", std::to_string(i) + std::string(30000, 'h')));
        c.expect(ACK);
    }
    c.send(UPD, "{\"reciever\":\"gwen\"}");
    std::vector<std::string> texts;
    int frames = 0;
    for (;;) {
        Frame f = c.expect(HIS);
        ASSERT_LE(f.payload.size(), 65535u);
        ++frames;
        rapidjson::Document d = f.json();
        ASSERT_TRUE(d.IsObject() && d["history"].IsArray());
        for (const auto& e : d["history"].GetArray()) {
            texts.push_back(e["msg"].GetString());
        }
        if (!d.HasMember("more")) {
            break;
        }
        EXPECT_TRUE(d["more"].GetBool());
    }
    EXPECT_GE(frames, 5);
    ASSERT_EQ(texts.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(texts[i][0], '0' + i);
    }
}

TEST(MessagingDeliveryTest, AListOf100000UsersSpansSeveralFrames) {
    ChatServer server;
    server.registerUser("hugo");
    server.process->signal(SIGTERM);
    server.process->wait();
    // 100,000 accounts written straight into auth's table (hashing each would take minutes).
    executeOnDatabase(server.dir.path() + "/var/switchboard.db",
                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                      "100000) INSERT INTO auth_users (id, username, username_key, email, "
                      "email_key, password_hash, source, created_at, tokens_after) SELECT 1000 + "
                      "i, 'user' || i, 'user' || i, 'user' || i || '@example.com', 'user' || i || "
                      "'@example.com', 'x', 'registered', 0, 0 FROM n");
    executeOnDatabase(server.dir.path() + "/var/switchboard.db",
                      "UPDATE auth_counters SET value = 200000 WHERE name = 'user_id'");
    server.start();
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("hugo", "password123"));  // follows "next" to the end
    EXPECT_EQ(c.users.size(), 100001u);
    EXPECT_EQ(c.users.front(), "hugo");
    EXPECT_EQ(c.users.back(), "user100000");
    c.send(LIS, "{}");
    int frames = 0;
    std::vector<std::string> all = c.readList(&frames);
    ASSERT_EQ(all.size(), 100001u);
    EXPECT_EQ(all[50000], "user50000");
    EXPECT_GE(frames, 19);  // about 1.3 MB of logins in 64 KiB frames
    c.send(LIS, "{\"offset\":-1}");
    c.expectError("offset must be a non-negative integer");
}

TEST(MessagingDeliveryTest, AHalfSentFrameIsClosedAfterTheFrameTimeout) {
    ChatServer server(chatPlugins(", frame_timeout: 1s"));
    server.registerUser("ida");
    ChatClient half(server.chat());
    half.sendRaw(header(1, LOG, 100) + "{\"login\":");  // 100 bytes announced, 9 sent
    ChatClient other(server.chat());
    ASSERT_TRUE(other.login("ida", "password123"));  // unaffected meanwhile
    Frame f = half.expect(DIS, 10s);
    EXPECT_EQ(f.str("msg"), "Incomplete frame: timed out");
    EXPECT_TRUE(half.closedWithin(5s));
    other.send(MSG, msg("ida", "still here"));
    other.expect(ACK);
    EXPECT_EQ(other.expect(MSG).str("msg"), "still here");
}

TEST(MessagingDeliveryTest, AReceiverThatOnlyReadsIsNotIdleButASilentConnectionIs) {
    // stream.idle_timeout counts bytes either way: the seed's protocol has no keepalive, and a
    // client that only reads what it is sent must not be dropped (the soak lost every receiver
    // after 300 s when only the peer's bytes counted).
    ChatServer server(chatPlugins(", rate_limit: { messages: 0 }"), "",
                      "stream: { idle_timeout: 1s }");
    server.registerUser("lou");
    server.registerUser("max");
    ChatClient reader(server.chat());
    ASSERT_TRUE(reader.login("lou", "password123"));  // sends nothing after this
    ChatClient silent(server.chat());
    ASSERT_TRUE(silent.login("max", "password123"));  // neither sends nor is sent anything
    auto until = std::chrono::steady_clock::now() + 2500ms;
    int n = 0;
    while (std::chrono::steady_clock::now() < until) {
        ChatClient writer(server.chat());  // a fresh sender each time: only lou is long-lived
        ASSERT_TRUE(writer.login("max", "password123"));
        writer.send(MSG, msg("lou", "tick " + std::to_string(n)));
        writer.expect(ACK);
        EXPECT_EQ(reader.expect(MSG).str("msg"), "tick " + std::to_string(n));
        ++n;
        std::this_thread::sleep_for(300ms);
    }
    EXPECT_TRUE(silent.closedWithin(3s)) << "a connection with no traffic either way stays";
    ChatClient last(server.chat());
    ASSERT_TRUE(last.login("max", "password123"));
    last.send(MSG, msg("lou", "still there"));
    last.expect(ACK);
    EXPECT_EQ(reader.expect(MSG).str("msg"), "still there") << "the reader was closed as idle";
}

TEST(MessagingDeliveryTest, ANeverReadingReceiverHoldsOnlyItsOwnConnection) {
    ChatServer server(chatPlugins(", rate_limit: { messages: 0 }, send_budget: 32KiB"), "",
                      "stream: { max_outbound: 64KiB, io_timeout: 2s }");
    server.registerUser("jon");
    server.registerUser("kim");
    server.registerUser("sink");
    ChatClient sink(server.chat(), 4096);
    ASSERT_TRUE(sink.login("sink", "password123"));  // then never reads again
    ChatClient jon(server.chat());
    ASSERT_TRUE(jon.login("jon", "password123"));
    ChatClient kim(server.chat());
    ASSERT_TRUE(kim.login("kim", "password123"));
    std::string big(30000, 'z');
    auto sinkOpen = [&] {
        HttpResult r = http("GET", server.ports.admin, "/admin/api/messaging/connections", "",
                            {{"Authorization", std::string("Bearer ") + kAdminToken}});
        return r.body.find("\"sink\"") != std::string::npos;
    };
    bool closed = false;
    for (int round = 0; round < 1000 && !closed; ++round) {
        jon.send(MSG, msg("sink", big));
        jon.send(MSG, msg("kim", "round " + std::to_string(round)));
        ASSERT_EQ(jon.read().type, ACK);
        ASSERT_EQ(jon.read().type, ACK);
        ASSERT_EQ(kim.expect(MSG).str("msg"), "round " + std::to_string(round));
        if (round % 25 == 24) {
            closed = !sinkOpen();
        }
    }
    // The sink overflowed its queue (or stalled past io_timeout) and was closed; the others
    // chatted on meanwhile.
    EXPECT_TRUE(closed || eventually([&] { return !sinkOpen(); })) << server.log();
    jon.send(MSG, msg("sink", "after you left"));
    jon.expect(ACK);
    // What reached no live connection waits for the next login.
    ChatClient back(server.chat());
    ASSERT_TRUE(back.login("sink", "password123"));
    std::string last;
    int count = 0;
    Frame f = back.read(5s);
    for (; f.type == MSG; f = back.read(5s)) {
        last = f.str("msg");
        ++count;
    }
    EXPECT_EQ(last, "after you left")
        << count << " messages, then type " << f.type << " " << f.payload.substr(0, 100);
}

}  // namespace
