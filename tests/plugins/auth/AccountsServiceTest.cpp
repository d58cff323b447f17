// The Accounts service (switchboard/Accounts.h) as another plugin sees it: the accountsprobe
// fixture finds it in the service registry and calls each method over HTTP.
#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

class AccountsServiceTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        smtp = new MiniSmtp;
        server = new AuthServer(
            authPlugin(", credentials: { alice: password123 }, "
                       "rate_limit: { per_address: 0, per_account: 3 }, smtp: { host: 127.0.0.1, "
                       "port: " +
                       std::to_string(smtp->port()) + " }") +
            "  accountsprobe: { listener: public }\n");
    }
    static void TearDownTestSuite() {
        delete server;
        delete smtp;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }
    static HttpResult probe(const std::string& op, const std::string& body) {
        return post(server->pub(), "/probe/" + op, body);
    }
    static AuthServer* server;
    static MiniSmtp* smtp;
};

AuthServer* AccountsServiceTest::server = nullptr;
MiniSmtp* AccountsServiceTest::smtp = nullptr;

TEST_F(AccountsServiceTest, CreateFindAndAuthenticate) {
    HttpResult created = probe(
        "create", R"({"username":"wendy","email":"wendy@example.com","password":"password123"})");
    ASSERT_EQ(created.status, 201) << created.body;
    std::int64_t id = jsonInt(created.body, "id");
    EXPECT_EQ(created.body, "{\"id\":" + std::to_string(id) +
                                ",\"username\":\"wendy\",\"email\":\"wendy@example.com\","
                                "\"login\":\"wendy\"}");
    EXPECT_EQ(probe("find", R"({"login":"WENDY"})").body, created.body);
    EXPECT_EQ(probe("find", R"({"login":"wendy@EXAMPLE.com"})").body, created.body);
    EXPECT_EQ(probe("find", "{\"id\":" + std::to_string(id) + "}").body, created.body);
    EXPECT_EQ(probe("find", R"({"login":"nobody"})").status, 404);

    EXPECT_EQ(probe("authenticate", R"({"login":"wendy","password":"password123"})").body,
              "{\"status\":\"ok\",\"id\":" + std::to_string(id) + ",\"retry_after\":0}");
    EXPECT_EQ(
        probe("authenticate", R"({"login":"wendy@example.com","password":"password123"})").body,
        "{\"status\":\"ok\",\"id\":" + std::to_string(id) + ",\"retry_after\":0}");
    // The same failure limits as POST /login.
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(probe("authenticate", R"({"login":"wendy","password":"nope"})").body,
                  "{\"status\":\"invalid\",\"id\":0,\"retry_after\":0}");
    }
    HttpResult limited = probe("authenticate", R"({"login":"wendy","password":"password123"})");
    EXPECT_NE(limited.body.find("\"status\":\"rate_limited\""), std::string::npos) << limited.body;
    EXPECT_EQ(login(server->pub(), "username", "wendy", "password123").result.status, 429);

    // Accounts created through the service use the HTTP API like any other.
    HttpResult dup = probe("create", R"({"email":"WENDY@example.com","password":"password123"})");
    EXPECT_EQ(dup.status, 422);
    EXPECT_EQ(dup.body, "{\"error\":\"Email already registered\",\"code\":\"duplicate\"}");
    HttpResult weak = probe("create", R"({"email":"x@example.com","password":"short"})");
    EXPECT_EQ(weak.body,
              "{\"error\":\"password must be at least 8 characters\",\"code\":\"invalid_input\"}");
}

TEST_F(AccountsServiceTest, VerifyBearerFollowsTheTokenLifecycle) {
    registerUser(server->pub(), "xena@example.com", "password123");
    Login l = login(server->pub(), "email", "xena@example.com", "password123");
    HttpResult ok = probe("verify", "{\"token\":\"" + l.auth.bearer + "\"}");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(jsonString(ok.body, "email"), "xena@example.com");
    EXPECT_EQ(jsonString(ok.body, "login"), "xena@example.com");  // no username: the email
    EXPECT_EQ(probe("verify", R"({"token":"a.b.c"})").status, 401);
    ASSERT_EQ(post(server->pub(), "/logout", "", {"", l.auth.bearer}).status, 200);
    EXPECT_EQ(probe("verify", "{\"token\":\"" + l.auth.bearer + "\"}").status, 401);
}

TEST_F(AccountsServiceTest, ChangesAndRemoval) {
    std::int64_t id =
        jsonInt(probe("create",
                      R"({"username":"yuri","email":"yuri@example.com","password":"password123"})")
                    .body,
                "id");
    Login l = login(server->pub(), "username", "yuri", "password123");
    std::string idJson = std::to_string(id);
    EXPECT_EQ(
        probe("change_password", "{\"id\":" + idJson + ",\"password\":\"n3w-password\"}").status,
        200);
    // Through the service every session and token of the account ends.
    EXPECT_EQ(call("GET", server->pub(), "/me", "", {l.auth.cookie, ""}).status, 401);
    EXPECT_EQ(probe("verify", "{\"token\":\"" + l.auth.bearer + "\"}").status, 401);
    EXPECT_TRUE(login(server->pub(), "username", "yuri", "n3w-password").ok());

    EXPECT_EQ(
        probe("change_email", "{\"id\":" + idJson + ",\"email\":\"yuri@example.org\"}").status,
        200);
    EXPECT_EQ(jsonString(probe("find", "{\"id\":" + idJson + "}").body, "email"),
              "yuri@example.org");
    EXPECT_EQ(probe("change_email", "{\"id\":" + idJson + ",\"email\":\"bad\"}").body,
              "{\"error\":\"email is not a valid email address\",\"code\":\"invalid_input\"}");
    EXPECT_EQ(probe("change_password", R"({"id":999999,"password":"n3w-password"})").body,
              "{\"error\":\"Account not found\",\"code\":\"not_found\"}");

    std::string aliceId = std::to_string(jsonInt(probe("find", R"({"login":"alice"})").body, "id"));
    EXPECT_EQ(probe("remove", "{\"id\":" + aliceId + "}").body,
              "{\"error\":\"account is managed in the configuration (auth.credentials)\","
              "\"code\":\"read_only\"}");

    EventStream events(server->admin(), "user.deleted");
    EXPECT_EQ(probe("remove", "{\"id\":" + idJson + "}").status, 200);
    EXPECT_TRUE(events.next("user.deleted", "\"username\":\"yuri\""));
    EXPECT_EQ(probe("find", "{\"id\":" + idJson + "}").status, 404);
    EXPECT_EQ(probe("remove", "{\"id\":" + idJson + "}").body,
              "{\"error\":\"Account not found\",\"code\":\"not_found\"}");
}

TEST_F(AccountsServiceTest, ListAndPasswordResetRequests) {
    HttpResult list = probe("list", R"({"limit":1000,"offset":0})");
    EXPECT_EQ(list.status, 200);
    EXPECT_NE(list.body.find("\"username\":\"alice\""), std::string::npos) << list.body;
    EXPECT_EQ(probe("list", R"({"limit":1,"offset":0})").body.find("},{"), std::string::npos);

    registerUser(server->pub(), "zoe@example.com", "password123", "zoe");
    std::size_t before = smtp->count();
    EXPECT_EQ(probe("reset", R"({"login":"zoe"})").status, 200);
    auto mails = smtp->waitFor(before + 1);
    ASSERT_EQ(mails.size(), before + 1);
    EXPECT_EQ(mails.back().to[0], "<zoe@example.com>");
    EXPECT_EQ(post(server->pub(), "/password/reset",
                   "{\"token\":\"" + resetToken(mails.back().data) +
                       "\",\"password\":\"brand-new-pass\"}")
                  .status,
              200);
}

TEST(AccountsServiceStopTest, TheServiceIsWithdrawnWhenAuthStops) {
    AuthServer server(authPlugin() + "  accountsprobe: { listener: public }\n");
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(post(server.pub(), "/probe/find", R"({"login":"x"})").body, errorJson("none"));
    // Disable auth by a reload: its routes and its service go, the probe stays.
    std::string marker = "  auth: { listener: public";
    server.yaml.replace(server.yaml.find(marker), marker.size(),
                        "  auth: { enabled: false, listener: public");
    server.dir.write("switchboard.yaml", server.yaml);
    HttpResult reload = http("POST", server.admin(), "/admin/api/reload", "",
                             {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_EQ(reload.status, 200) << reload.body;
    HttpResult r = post(server.pub(), "/probe/find", R"({"login":"x"})");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, errorJson("no accounts service"));
    EXPECT_EQ(post(server.pub(), "/login", "{}").status, 404);
    EXPECT_TRUE(server.process->running());
}

}  // namespace
}  // namespace switchboard::test::auth
