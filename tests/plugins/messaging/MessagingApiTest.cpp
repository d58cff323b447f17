// The chat protocol against the real binary over real TLS: every frame type's success path and
// its documented errors, bad input, and accounts shared with the HTTP API.
#include "ChatTestSupport.h"

using namespace switchboard::test;
using namespace switchboard::test::chat;

namespace {

SslInit sslInit;

TEST(MessagingApiTest, RegisterLoginAndChat) {
    ChatServer server;
    server.registerUser("alice");
    server.registerUser("bob");
    ChatClient alice(server.chat());
    ASSERT_TRUE(alice.login("alice", "password123"));
    EXPECT_EQ(alice.users, (std::vector<std::string>{"alice", "bob"}));
    ChatClient bob(server.chat());
    ASSERT_TRUE(bob.login("bob", "password123"));

    alice.send(MSG, msg("bob", "hello bob"));
    EXPECT_EQ(alice.expect(ACK).payload, "{}");
    Frame got = bob.expect(MSG);
    EXPECT_EQ(got.str("sender"), "alice");
    EXPECT_EQ(got.str("reciever"), "bob");
    EXPECT_EQ(got.str("msg"), "hello bob");
    EXPECT_TRUE(got.json()["ts"].IsNumber());

    // The receiver's login is matched without ASCII case; the stored spelling is used.
    bob.send(MSG, msg("ALICE", "hi"));
    bob.expect(ACK);
    EXPECT_EQ(alice.expect(MSG).str("reciever"), "alice");
    // A message to oneself reaches one's own connections.
    bob.send(MSG, msg("bob", "note to self"));
    bob.expect(ACK);
    EXPECT_EQ(bob.expect(MSG).str("msg"), "note to self");
}

TEST(MessagingApiTest, RegisterErrorsNameTheProblem) {
    ChatServer server;
    server.registerUser("carol");
    ChatClient c(server.chat());
    c.send(REG, "{\"login\":\"carol\",\"password\":\"password123\",\"email\":\"c2@example.com\"}");
    c.expectError("Username already taken");
    c.send(REG,
           "{\"login\":\"dave\",\"password\":\"password123\",\"email\":\"carol@example.com\"}");
    c.expectError("Email already registered");
    c.send(REG, "{\"login\":\"dave\",\"password\":\"short\",\"email\":\"d@example.com\"}");
    c.expectError("password must be at least 8 characters");
    c.send(REG, "{\"login\":\"dave\",\"password\":\"password123\",\"email\":\"not-an-email\"}");
    c.expectError("email is not a valid email address");
    c.send(REG, "{\"login\":\"dave\",\"password\":\"password123\"}");
    c.expectError("missing key: email");
    c.send(REG, "{\"login\":7,\"password\":\"password123\",\"email\":\"d@example.com\"}");
    c.expectError("login must be a string");
    c.send(REG, "{\"login\":\"dave\",\"password\":\"password123\",\"email\":\"d@example.com\"}");
    c.expect(ACK);
}

TEST(MessagingApiTest, LoginErrorsAndWhatNeedsALogin) {
    ChatServer server;
    server.registerUser("erin");
    ChatClient c(server.chat());
    c.send(LOG, "{\"login\":\"erin\",\"password\":\"wrong-password\"}");
    c.expectError("Invalid credentials.");
    c.send(LOG, "{\"login\":\"nobody\",\"password\":\"password123\"}");
    c.expectError("Invalid credentials.");
    c.send(LOG, "{\"login\":\"erin\"}");
    c.expectError("missing key: password");
    for (int type : {MSG, UPD, LIS, CHP, CHM, DEL}) {
        c.send(type, "{}");
        c.expectError("Not logged in");
    }
    ASSERT_TRUE(c.login("erin", "password123"));
    c.send(LOG, "{\"login\":\"erin\",\"password\":\"password123\"}");
    c.expectError("Already logged in");
    // Email works as the login too.
    ChatClient byEmail(server.chat());
    ASSERT_TRUE(byEmail.login("erin@example.com", "password123"));
}

TEST(MessagingApiTest, ThrottledLoginsSaySo) {
    ChatServer server(chatPlugins("", ", rate_limit: { per_account: 2, per_address: 100 }"));
    server.registerUser("frank");
    ChatClient c(server.chat());
    for (int i = 0; i < 2; ++i) {
        c.send(LOG, "{\"login\":\"frank\",\"password\":\"wrong-password\"}");
        c.expectError("Invalid credentials.");
    }
    c.send(LOG, "{\"login\":\"frank\",\"password\":\"password123\"}");
    Frame f = c.expect(ERR);
    EXPECT_EQ(f.str("msg").rfind("Too many failed logins; retry in ", 0), 0u) << f.payload;
    EXPECT_TRUE(f.json()["retry_after"].IsInt64()) << f.payload;
}

TEST(MessagingApiTest, BadInputGetsErrAndKeepsTheConnection) {
    ChatServer server;
    server.registerUser("gina");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("gina", "password123"));
    c.sendRaw(header(2, LIS, 2) + "{}");
    c.expectError("Unsupported protocol version 2 (expected 1)");
    c.sendRaw(header(1, 42, 2) + "{}");
    c.expectError("Unknown frame type 42");
    c.send(MSG, "not json");
    c.expectError("payload is not valid JSON");
    c.send(MSG, "[1,2]");
    c.expectError("payload must be a JSON object");
    c.send(MSG, "{\"reciever\":\"gina\",\"msg\":\"\xff\xfe\"}");
    c.expectError("msg is not valid UTF-8");
    c.send(MSG, "{\"reciever\":5,\"msg\":\"x\"}");
    c.expectError("reciever must be a string");
    c.send(MSG, "{\"msg\":\"x\"}");
    c.expectError("missing key: reciever");
    c.send(MSG, "{\"reciever\":\"gina\",\"msg\":[]}");
    c.expectError("msg must be a string");
    c.send(MSG, msg("nobody-here", "x"));
    c.expectError("Unknown user: nobody-here");
    c.send(SES, "{}");
    c.expectError("SES is sent by the server, not by clients");
    c.send(ACK, "{}");  // ignored
    // Still served.
    c.send(LIS, "");
    EXPECT_EQ(c.readList(), (std::vector<std::string>{"gina"}));
}

TEST(MessagingApiTest, GarbageHeaderGetsDisAndClose) {
    ChatServer server;
    ChatClient c(server.chat());
    c.sendRaw(header(3, 50, 0));
    c.expect(DIS);
    EXPECT_TRUE(c.closedWithin(5s));
}

TEST(MessagingApiTest, DisClosesTheConnection) {
    ChatServer server;
    ChatClient c(server.chat());
    c.send(DIS, "{}");
    EXPECT_TRUE(c.closedWithin(5s));
}

TEST(MessagingApiTest, TwoConnectionsOfOneReceiverBothGetTheMessage) {
    ChatServer server;
    server.registerUser("hank");
    server.registerUser("iris");
    ChatClient hank(server.chat());
    ASSERT_TRUE(hank.login("hank", "password123"));
    ChatClient iris1(server.chat());
    ASSERT_TRUE(iris1.login("iris", "password123"));
    ChatClient iris2(server.chat());
    ASSERT_TRUE(iris2.login("iris", "password123"));
    for (int i = 0; i < 3; ++i) {
        hank.send(MSG, msg("iris", "m" + std::to_string(i)));
    }

    for (int i = 0; i < 3; ++i) {
        hank.expect(ACK);
        EXPECT_EQ(iris1.expect(MSG).str("msg"), "m" + std::to_string(i));
        EXPECT_EQ(iris2.expect(MSG).str("msg"), "m" + std::to_string(i));
    }
}

TEST(MessagingApiTest, HistoryIsTheLastMessagesOldestFirst) {
    ChatServer server(chatPlugins(", history_limit: 3"));
    server.registerUser("jack");
    server.registerUser("kate");
    server.registerUser("liam");
    ChatClient jack(server.chat());
    ASSERT_TRUE(jack.login("jack", "password123"));
    ChatClient kate(server.chat());
    ASSERT_TRUE(kate.login("kate", "password123"));
    for (int i = 0; i < 5; ++i) {
        ChatClient& from = i % 2 == 0 ? jack : kate;
        from.send(MSG, msg(i % 2 == 0 ? "kate" : "jack", "h" + std::to_string(i)));
        from.expect(ACK);
        (i % 2 == 0 ? kate : jack).expect(MSG);
    }
    jack.send(MSG, msg("liam", "other conversation"));
    jack.expect(ACK);
    // The UPD right after a MSG sees it: the answer comes after the MSG's ACK.
    jack.send(MSG, msg("kate", "h5"));
    jack.send(UPD, "{\"reciever\":\"kate\"}");
    jack.expect(ACK);
    Frame his = jack.expect(HIS);
    rapidjson::Document d = his.json();
    ASSERT_TRUE(d.IsObject() && d["history"].IsArray()) << his.payload;
    ASSERT_EQ(d["history"].Size(), 3u) << his.payload;
    EXPECT_STREQ(d["history"][0]["msg"].GetString(), "h3");
    EXPECT_STREQ(d["history"][1]["msg"].GetString(), "h4");
    EXPECT_STREQ(d["history"][2]["msg"].GetString(), "h5");
    EXPECT_STREQ(d["history"][0]["sender"].GetString(), "kate");
    EXPECT_STREQ(d["history"][0]["reciever"].GetString(), "jack");
    EXPECT_TRUE(d["history"][0]["ts"].IsNumber());
    EXPECT_FALSE(d.HasMember("more"));
    jack.send(UPD, "{}");
    EXPECT_EQ(jack.expect(HIS).payload, "{\"history\":[]}");
    jack.send(UPD, "{\"reciever\":\"nobody-here\"}");
    jack.expectError("Unknown user: nobody-here");
}

TEST(MessagingApiTest, ChangePasswordAndEmailAreSeenByHttpLogin) {
    ChatServer server;
    server.registerUser("mia");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("mia", "password123"));
    c.send(CHP, "{\"password\":\"short\"}");
    c.expect(ERR);
    c.send(CHP, "{\"password\":\"new-password-456\"}");
    c.expect(ACK);
    c.send(CHM, "{\"email\":\"bad\"}");
    c.expect(ERR);
    c.send(CHM, "{\"email\":\"mia-new@example.com\"}");
    c.expect(ACK);
    c.send(CHM, "{}");
    c.expectError("missing key: email");
    HttpResult old = http("POST", server.ports.pub, "/login",
                          "{\"username\":\"mia\",\"password\":\"password123\"}");
    EXPECT_EQ(old.status, 401);
    HttpResult now = http("POST", server.ports.pub, "/login",
                          "{\"email\":\"mia-new@example.com\",\"password\":\"new-password-456\"}");
    EXPECT_EQ(now.status, 200) << now.body;
}

TEST(MessagingApiTest, DeleteAcksDisconnectsAndRemovesTheAccountEverywhere) {
    ChatServer server;
    server.registerUser("noah");
    server.registerUser("olga");
    HttpResult httpLogin = http("POST", server.ports.pub, "/login",
                                "{\"username\":\"noah\",\"password\":\"password123\"}");
    ASSERT_EQ(httpLogin.status, 200);
    ChatClient other(server.chat());
    ASSERT_TRUE(other.login("noah", "password123"));
    ChatClient olga(server.chat());
    ASSERT_TRUE(olga.login("olga", "password123"));
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("noah", "password123"));
    c.send(DEL, "{}");
    c.expect(ACK);
    c.expect(DIS);
    EXPECT_TRUE(c.closedWithin(5s));
    Frame gone = other.expect(DIS);
    EXPECT_EQ(gone.str("msg"), "Account deleted");
    EXPECT_TRUE(other.closedWithin(5s));
    EXPECT_EQ(http("POST", server.ports.pub, "/login",
                   "{\"username\":\"noah\",\"password\":\"password123\"}")
                  .status,
              401);
    olga.send(MSG, msg("noah", "are you there?"));
    olga.expectError("Unknown user: noah");
    olga.send(LIS, "{}");
    EXPECT_EQ(olga.readList(), (std::vector<std::string>{"olga"}));
}

TEST(MessagingApiTest, ForgotPasswordAlwaysAcks) {
    ChatServer server;
    server.registerUser("pia");
    ChatClient c(server.chat());
    c.send(FRP, "{\"login\":\"pia\"}");
    c.expect(ACK);
    c.send(FRP, "{\"login\":\"nobody-at-all\"}");
    c.expect(ACK);
    c.send(FRP, "{}");
    c.expectError("missing key: login");
}

TEST(MessagingApiTest, AnHttpRegisteredAccountLogsInToChat) {
    ChatServer server;
    HttpResult r = http("POST", server.ports.pub, "/register",
                        "{\"email\":\"quinn@example.com\",\"password\":\"password123\","
                        "\"username\":\"quinn\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    HttpResult emailOnly = http("POST", server.ports.pub, "/register",
                                "{\"email\":\"rosa@example.com\",\"password\":\"password123\"}");
    ASSERT_EQ(emailOnly.status, 201) << emailOnly.body;
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("quinn", "password123"));
    EXPECT_EQ(c.users, (std::vector<std::string>{"quinn", "rosa@example.com"}));
    ChatClient rosa(server.chat());
    ASSERT_TRUE(rosa.login("rosa@example.com", "password123"));
    c.send(MSG, msg("rosa@example.com", "hi rosa"));
    c.expect(ACK);
    EXPECT_EQ(rosa.expect(MSG).str("sender"), "quinn");
}

TEST(MessagingApiTest, MessagesArePerAccountRateLimited) {
    ChatServer server(chatPlugins(", rate_limit: { messages: 3, window: 1h }"));
    server.registerUser("sam");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("sam", "password123"));
    for (int i = 0; i < 3; ++i) {
        c.send(MSG, msg("sam", "x"));
        c.expect(ACK);
        c.expect(MSG);
    }
    c.send(MSG, msg("sam", "one too many"));
    Frame f = c.expect(ERR);
    EXPECT_EQ(f.str("msg").rfind("Too many messages; retry in ", 0), 0u) << f.payload;
    EXPECT_GE(f.json()["retry_after"].GetInt64(), 1);
}

TEST(MessagingApiTest, LuaHookDropsWithAReasonOrReplaces) {
    ChatServer server(chatPlugins(),
                      "function on_chat_message(m)\n"
                      "  if m.msg:find('spam') then return nil, 'no spam please' end\n"
                      "  if m.msg == 'silent' then return nil end\n"
                      "  m.msg = m.msg:upper()\n"
                      "  return m\n"
                      "end\n");
    server.registerUser("tom");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("tom", "password123"));
    c.send(MSG, msg("tom", "buy spam now"));
    c.expectError("Message not sent: no spam please");
    c.send(MSG, msg("tom", "silent"));
    c.expectError("Message not sent: rejected by the server");
    c.send(MSG, msg("tom", "quiet words"));
    c.expect(ACK);
    EXPECT_EQ(c.expect(MSG).str("msg"), "QUIET WORDS");
    c.send(UPD, "{\"reciever\":\"tom\"}");
    EXPECT_NE(c.expect(HIS).payload.find("QUIET WORDS"), std::string::npos);
}

TEST(MessagingApiTest, LoginAndLogoutAreOnTheBusWithoutBodies) {
    ChatServer server;
    server.registerUser("uma");
    EventStream events(server.ports.admin, "chat.*");
    {
        ChatClient c(server.chat());
        ASSERT_TRUE(c.login("uma", "password123"));
        c.send(MSG, msg("uma", "secret text"));
        c.expect(ACK);
        auto in = events.next("chat.login", "\"login\":\"uma\"");
        ASSERT_TRUE(in.has_value());
        EXPECT_EQ(in->data.find("secret"), std::string::npos);
    }
    auto out = events.next("chat.logout", "\"login\":\"uma\"");
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->data.find("secret"), std::string::npos);
}

TEST(MessagingApiTest, AdminListsAndKicksConnections) {
    ChatServer server;
    server.registerUser("vera");
    ChatClient c(server.chat());
    ASSERT_TRUE(c.login("vera", "password123"));
    std::map<std::string, std::string> auth{
        {"Authorization", std::string("Bearer ") + kAdminToken}};
    HttpResult list = http("GET", server.ports.admin, "/admin/api/messaging/connections", "", auth);
    ASSERT_EQ(list.status, 200) << list.body;
    rapidjson::Document d;
    d.Parse(list.body.c_str());
    ASSERT_TRUE(d.IsObject() && d["items"].IsArray()) << list.body;
    ASSERT_EQ(d["items"].Size(), 1u) << list.body;
    EXPECT_STREQ(d["items"][0]["login"].GetString(), "vera");
    EXPECT_EQ(d["total"].GetInt(), 1);
    std::string id = std::to_string(d["items"][0]["id"].GetUint64());
    EXPECT_EQ(http("GET", server.ports.admin, "/admin/api/messaging/connections?limit=0", "", auth)
                  .status,
              400);
    HttpResult byLogin =
        http("GET", server.ports.admin, "/admin/api/messaging/connections?q=VER", "", auth);
    EXPECT_NE(byLogin.body.find("\"login\":\"vera\""), std::string::npos) << byLogin.body;
    EXPECT_NE(byLogin.body.find("\"total\":1,"), std::string::npos) << byLogin.body;
    HttpResult nobody =
        http("GET", server.ports.admin, "/admin/api/messaging/connections?q=zed", "", auth);
    EXPECT_EQ(nobody.body, "{\"items\":[],\"total\":0,\"limit\":100,\"offset\":0}");
    HttpResult past =
        http("GET", server.ports.admin, "/admin/api/messaging/connections?offset=5", "", auth);
    EXPECT_EQ(past.body, "{\"items\":[],\"total\":1,\"limit\":100,\"offset\":5}");
    HttpResult kick = http("POST", server.ports.admin,
                           "/admin/api/messaging/connections/" + id + "/kick", "", auth);
    EXPECT_EQ(kick.status, 200) << kick.body;
    EXPECT_EQ(c.expect(DIS).str("msg"), "Disconnected by an operator");
    EXPECT_TRUE(c.closedWithin(5s));
    HttpResult audit =
        http("GET", server.ports.admin, "/admin/api/audit?action=chat.kicked", "", auth);
    EXPECT_NE(
        audit.body.find("\"action\":\"chat.kicked\",\"detail\":{\"connection_id\":" + id + "}}"),
        std::string::npos)
        << audit.body;
    EXPECT_EQ(
        http("POST", server.ports.admin, "/admin/api/messaging/connections/999999/kick", "", auth)
            .status,
        404);
}

}  // namespace
