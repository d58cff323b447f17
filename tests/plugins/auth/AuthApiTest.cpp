// Integration tests of the auth plugin's HTTP API (seeds 001-003, DESIGN.md §6): the real
// switchboard binary on loopback, driven the way ServerAPI and signaling clients drive it.
#include <Poco/JWT/Token.h>
#include <Poco/String.h>

#include <future>
#include <regex>

#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

/// The seed ServerAPI callback, extended with cases the tests need.
const char* kHooks = R"(
function on_communicate(username, token, data, session_id)
  local action = data.action
  if action == "echo" then return false, false, { echo = data.message } end
  if action == "whoami" then
    return false, false, { username = username, token = token, session_id = session_id }
  end
  if action == "data" then return false, false, data end
  if action == "close" then return true, false, { bye = true } end
  if action == "logout" then return false, true, { logged_out = true } end
  if action == "nothing" then return false, false, nil end
  if action == "list" then return false, false, { 1, 2, 3 } end
  if action == "text" then return false, false, "just text" end
  if action == "boom" then error("kaboom") end
  if action == "loop" then while true do end end
  return false, false, { error = "Unknown action." }
end
)";

class AuthApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new AuthServer(authPlugin(", credentials: { alice: password123 }, "
                                           "rate_limit: { per_address: 0, per_account: 0 }"),
                                kHooks);
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }
    static int port() { return server->pub(); }
    static AuthServer* server;
};

AuthServer* AuthApiTest::server = nullptr;

const std::regex kCookie("^sessionToken=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/$");

// ---------------------------------------------------------------------------------------------
// POST /register

TEST_F(AuthApiTest, RegisterReturns201WithTheAccount) {
    HttpResult r = post(port(), "/register",
                        R"({"email":"reg@example.com","password":"password123","username":"reg"})");
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    std::int64_t id = jsonInt(r.body, "id");
    EXPECT_GT(id, 0);
    EXPECT_EQ(r.body, "{\"id\":" + std::to_string(id) +
                          ",\"email\":\"reg@example.com\",\"username\":\"reg\"}");
    // The seed's email-only registration: username null.
    HttpResult seed =
        post(port(), "/register", R"({"email": "user@example.com", "password": "password123"})");
    EXPECT_EQ(seed.status, 201);
    EXPECT_EQ(seed.body, "{\"id\":" + std::to_string(jsonInt(seed.body, "id")) +
                             ",\"email\":\"user@example.com\",\"username\":null}");
    EXPECT_GT(jsonInt(seed.body, "id"), id);
}

TEST_F(AuthApiTest, RegisterRefusesDuplicatesWith409) {
    registerUser(port(), "dup@example.com", "password123", "dupname");
    HttpResult email =
        post(port(), "/register", R"({"email":"DUP@Example.com","password":"password123"})");
    EXPECT_EQ(email.status, 409);
    EXPECT_EQ(email.body, errorJson("Email already registered"));
    HttpResult name = post(port(), "/register",
                           R"({"email":"dup2@example.com","password":"password123",)"
                           R"("username":"DupName"})");
    EXPECT_EQ(name.status, 409);
    EXPECT_EQ(name.body, errorJson("Username already taken"));
    // A static account's name is taken too.
    HttpResult alice = post(port(), "/register",
                            R"({"email":"alice@example.com","password":"password123",)"
                            R"("username":"alice"})");
    EXPECT_EQ(alice.status, 409);
    EXPECT_EQ(alice.body, errorJson("Username already taken"));
}

TEST_F(AuthApiTest, RegisterRejectsMissingWeakAndMalformedInput) {
    struct Case {
        std::string body;
        std::string error;
    } cases[] = {
        {R"({"password":"password123"})", "missing key: email"},
        {R"({"email":"x@example.com"})", "missing key: password"},
        {R"({"email":null,"password":"password123"})", "missing key: email"},
        {R"({"email":5,"password":"password123"})", "email must be a string"},
        {R"({"email":"x@example.com","password":["p"]})", "password must be a string"},
        {R"({"email":"x@example.com","password":"password123","username":7})",
         "username must be a string"},
        {R"({"email":"not-an-email","password":"password123"})",
         "email is not a valid email address"},
        {R"({"email":"a@b","password":"password123"})", "email is not a valid email address"},
        {R"({"email":"a b@example.com","password":"password123"})",
         "email is not a valid email address"},
        {R"({"email":"x\u0000y@example.com","password":"password123"})",
         "email is not a valid email address"},
        {R"({"email":"x@example.com","password":"short"})",
         "password must be at least 8 characters"},
        {R"({"email":"x@example.com","password":"pass\u0000word123"})",
         "password must not contain NUL characters"},
        {R"({"email":"x@example.com","password":"password123","username":""})",
         "username must not be empty"},
        {R"({"email":"x@example.com","password":"password123","username":"a@b"})",
         "username must not contain '@'"},
        {R"({"email":"x@example.com","password":"password123","username":"a b"})",
         "username must not contain spaces or control characters"},
        {R"({"email":"x@example.com","password":"password123","username":")" +
             std::string(65, 'u') + "\"}",
         "username is too long (limit 64 bytes)"},
        {R"({"email":"x@)" + std::string(249, 'e') + R"(.com","password":"password123"})",
         "email is too long (limit 254 bytes)"},
        {R"({"email":"x@example.com","password":")" + std::string(1025, 'p') + "\"}",
         "password is too long (limit 1024 bytes)"},
        {"not json", "body is not valid JSON"},
        {"", "body is not valid JSON"},
        {"[1]", "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/register", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    // None of them created an account.
    EXPECT_EQ(
        post(port(), "/register", R"({"email":"x@example.com","password":"password123"})").status,
        201);
    // The limits themselves are allowed: a 254-byte email, a 1024-byte password.
    HttpResult longest = post(port(), "/register",
                              R"({"email":"y@)" + std::string(248, 'e') + R"(.com","password":")" +
                                  std::string(1024, 'p') + "\"}");
    EXPECT_EQ(longest.status, 201) << longest.body;
}

// ---------------------------------------------------------------------------------------------
// POST /login

TEST_F(AuthApiTest, LoginByUsernameSetsTheCookieAndReturnsAJwt) {
    registerUser(port(), "bob@example.com", "securepassword", "bob");
    Login l = login(port(), "username", "bob", "securepassword");
    ASSERT_EQ(l.result.status, 200) << l.result.body;
    EXPECT_EQ(l.result.body, "{\"access_token\":\"" + l.auth.bearer +
                                 "\",\"token_type\":\"bearer\",\"message\":\"Login successful.\"}");
    EXPECT_TRUE(std::regex_match(l.result.header("Set-Cookie"), kCookie))
        << l.result.header("Set-Cookie");
    // The JWT: HS256 with sub, iat, exp (integers), jti.
    Poco::JWT::Token token(l.auth.bearer);
    EXPECT_EQ(token.getAlgorithm(), "HS256");
    const auto& p = token.payload();
    EXPECT_EQ(p.getValue<std::string>("sub"),
              std::to_string(jsonInt(call("GET", port(), "/me", "", l.auth).body, "id")));
    ASSERT_TRUE(p.get("iat").isInteger());
    ASSERT_TRUE(p.get("exp").isInteger());
    EXPECT_EQ(p.getValue<Poco::Int64>("exp") - p.getValue<Poco::Int64>("iat"), 24 * 3600);
    EXPECT_NEAR(static_cast<double>(p.getValue<Poco::Int64>("iat")),
                static_cast<double>(epochSeconds()), 60);
    EXPECT_EQ(p.getValue<std::string>("jti").size(), 32u);
    // Both credentials work.
    EXPECT_EQ(call("GET", port(), "/me", "", {l.auth.cookie, ""}).status, 200);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 200);
}

TEST_F(AuthApiTest, LoginByEmailIsCaseInsensitive) {
    std::int64_t id = registerUser(port(), "Carol@Example.com", "password123");
    Login l = login(port(), "email", "carol@example.COM", "password123");
    ASSERT_TRUE(l.ok()) << l.result.body;
    HttpResult me = call("GET", port(), "/me", "", l.auth);
    EXPECT_EQ(me.body, "{\"id\":" + std::to_string(id) +
                           ",\"email\":\"Carol@Example.com\",\"username\":null}");
    // A username field holding an email address logs in by email too.
    EXPECT_TRUE(login(port(), "username", "carol@example.com", "password123").ok());
}

TEST_F(AuthApiTest, StaticCredentialsFromTheConfigLogIn) {
    Login l = login(port(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok()) << l.result.body;
    HttpResult me = call("GET", port(), "/me", "", l.auth);
    EXPECT_EQ(me.status, 200);
    EXPECT_EQ(jsonString(me.body, "username"), "alice");
    EXPECT_NE(me.body.find("\"email\":null"), std::string::npos) << me.body;
    EXPECT_TRUE(server->process->waitForLog("plugins.auth.credentials.alice: plain-text password"));
}

TEST_F(AuthApiTest, WrongPasswordAndUnknownUserAre401) {
    registerUser(port(), "dave@example.com", "password123", "dave");
    for (const auto& [field, name, password] :
         {std::tuple{"username", "dave", "wrong-password"},
          std::tuple{"username", "nobody", "password123"},
          std::tuple{"email", "nobody@example.com", "password123"},
          std::tuple{"email", "dave@example.com", ""}}) {
        Login l = login(port(), field, name, password);
        EXPECT_EQ(l.result.status, 401) << name;
        EXPECT_EQ(l.result.body, errorJson("Invalid credentials.")) << name;
        EXPECT_EQ(l.result.header("Set-Cookie"), "");
    }
}

TEST_F(AuthApiTest, MalformedLoginIs400WithTheSeedErrorAndADetail) {
    struct Case {
        std::string body;
        std::string detail;
    } cases[] = {
        {R"({"password":"password123"})", "missing key: username or email"},
        {R"({"username":"alice"})", "missing key: password"},
        {R"({"email":"alice@example.com"})", "missing key: password"},
        {R"({"username":5,"password":"x"})", "username must be a string"},
        {R"({"email":true,"password":"x"})", "email must be a string"},
        {R"({"username":"alice","password":1})", "password must be a string"},
        {"nope", "body is not valid JSON"},
        {"[]", "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/login", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, "{\"error\":\"Invalid credentials.\",\"detail\":\"" + c.detail + "\"}")
            << c.body;
    }
}

// ---------------------------------------------------------------------------------------------
// POST /logout and GET /me

TEST_F(AuthApiTest, LogoutByCookieEndsTheSessionAndItsToken) {
    registerUser(port(), "erin@example.com", "password123", "erin");
    Login l = login(port(), "username", "erin", "password123");
    ASSERT_TRUE(l.ok());
    HttpResult out = post(port(), "/logout", "", {l.auth.cookie, ""});
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.body, "{\"message\":\"Logout successful.\"}");
    EXPECT_EQ(out.header("Set-Cookie"),
              "sessionToken=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    HttpResult again = post(port(), "/logout", "", {l.auth.cookie, ""});
    EXPECT_EQ(again.status, 401);
    EXPECT_EQ(again.body, errorJson("Invalid session token."));
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"echo"})", {l.auth.cookie, ""}).body,
              errorJson("Invalid session token."));
    // The JWT issued with that login is revoked too.
    HttpResult me = call("GET", port(), "/me", "", {"", l.auth.bearer});
    EXPECT_EQ(me.status, 401);
    EXPECT_EQ(me.body, errorJson("Invalid token."));
}

TEST_F(AuthApiTest, LogoutByBearerRevokesTheTokenAndItsSession) {
    registerUser(port(), "frank@example.com", "password123", "frank");
    Login l = login(port(), "username", "frank", "password123");
    ASSERT_TRUE(l.ok());
    Login other = login(port(), "username", "frank", "password123");
    HttpResult out = post(port(), "/logout", "", {"", l.auth.bearer});
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.body, "{\"message\":\"Logout successful.\"}");
    EXPECT_EQ(out.header("Set-Cookie"), "");
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 401);
    EXPECT_EQ(post(port(), "/logout", "", {"", l.auth.bearer}).body,
              errorJson("Invalid session token."));
    EXPECT_EQ(call("GET", port(), "/me", "", {l.auth.cookie, ""}).status, 401);
    // The other login of the same account is untouched.
    EXPECT_EQ(call("GET", port(), "/me", "", other.auth).status, 200);
}

TEST_F(AuthApiTest, LogoutWithoutValidCredentialsIs401) {
    for (const Auth& auth : {Auth{}, Auth{"0123", ""}, Auth{"", "not.a.jwt"}}) {
        HttpResult r = post(port(), "/logout", "", auth);
        EXPECT_EQ(r.status, 401);
        EXPECT_EQ(r.body, errorJson("Invalid session token."));
    }
}

TEST_F(AuthApiTest, MeNamesTheMissingOrBadCredential) {
    HttpResult none = call("GET", port(), "/me");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.body, errorJson("Authentication required."));
    EXPECT_EQ(call("GET", port(), "/me", "", {"deadbeef", ""}).body,
              errorJson("Invalid session token."));
    EXPECT_EQ(call("GET", port(), "/me", "", {"", "a.b.c"}).body, errorJson("Invalid token."));
    // "Bearer" is matched case-insensitively.
    Login l = login(port(), "username", "alice", "password123");
    HttpResult lower =
        http("GET", port(), "/me", "", {{"Authorization", "bearer " + l.auth.bearer}});
    EXPECT_EQ(lower.status, 200);
}

// ---------------------------------------------------------------------------------------------
// POST /communicate

TEST_F(AuthApiTest, CommunicateAnswersWithTheHookResponse) {
    Login l = login(port(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    Auth cookie{l.auth.cookie, ""};
    HttpResult echo =
        post(port(), "/communicate", R"({"action":"echo","message":"hello"})", cookie);
    EXPECT_EQ(echo.status, 200);
    EXPECT_EQ(echo.header("Content-Type"), "application/json");
    EXPECT_EQ(echo.body, "{\"echo\":\"hello\"}");
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"dance"})", cookie).body,
              "{\"error\":\"Unknown action.\"}");
    HttpResult who = post(port(), "/communicate", R"({"action":"whoami"})", cookie);
    EXPECT_EQ(jsonString(who.body, "username"), "alice");
    EXPECT_EQ(jsonString(who.body, "token"), l.auth.cookie);
    std::string sessionId = jsonString(who.body, "session_id");
    EXPECT_EQ(sessionId.size(), 32u);
    EXPECT_NE(admin("GET", server->admin(), "/sessions").body.find(sessionId), std::string::npos);
    // Nested data goes to Lua and back unchanged; nil -> {}; an array is allowed.
    std::string data = R"({"action":"data","n":[1,2.5,"x",{"deep":true}],"u":"\u00e9"})";
    HttpResult nested = post(port(), "/communicate", data, cookie);
    EXPECT_TRUE(sameJson(nested.body, R"({"action":"data","n":[1,2.5,"x",{"deep":true}],"u":"é"})"))
        << nested.body;
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"nothing"})", cookie).body, "{}");
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"list"})", cookie).body, "[1,2,3]");
    // An empty body is an empty table.
    EXPECT_EQ(post(port(), "/communicate", "", cookie).body, "{\"error\":\"Unknown action.\"}");
}

TEST_F(AuthApiTest, CommunicateNeedsACookieSession) {
    Login l = login(port(), "username", "alice", "password123");
    for (const Auth& auth : {Auth{}, Auth{"ffff", ""}, Auth{"", l.auth.bearer}}) {
        HttpResult r = post(port(), "/communicate", R"({"action":"echo"})", auth);
        EXPECT_EQ(r.status, 401);
        EXPECT_EQ(r.body, errorJson("Invalid session token."));
    }
}

TEST_F(AuthApiTest, CommunicateRejectsBodiesThatAreNotObjects) {
    Login l = login(port(), "username", "alice", "password123");
    Auth cookie{l.auth.cookie, ""};
    EXPECT_EQ(post(port(), "/communicate", "{oops", cookie).body,
              errorJson("body is not valid JSON"));
    HttpResult array = post(port(), "/communicate", "[1,2]", cookie);
    EXPECT_EQ(array.status, 400);
    EXPECT_EQ(array.body, errorJson("body must be a JSON object"));
}

TEST_F(AuthApiTest, CommunicateRefusesDataNestedPastTheHooksLimit) {
    Login l = login(port(), "username", "alice", "password123");
    Auth cookie{l.auth.cookie, ""};
    // The body is one level; `n` adds one per array.
    auto nestedBody = [](int levels) {
        return R"({"action":"data","n":)" + std::string(levels - 1, '[') + "1" +
               std::string(levels - 1, ']') + "}";
    };
    std::string deepest = nestedBody(32);
    HttpResult fits = post(port(), "/communicate", deepest, cookie);
    EXPECT_EQ(fits.status, 200) << fits.body;
    EXPECT_TRUE(sameJson(fits.body, deepest)) << fits.body;
    auto warnings = [&] {
        std::string log = server->log();
        std::size_t n = 0;
        for (std::size_t at = log.find("nested too deeply"); at != std::string::npos;
             at = log.find("nested too deeply", at + 1)) {
            ++n;
        }
        return n;
    };
    std::size_t before = warnings();
    for (int levels : {33, 40, 1000}) {
        HttpResult r = post(port(), "/communicate", nestedBody(levels), cookie);
        EXPECT_EQ(r.status, 400) << levels;
        EXPECT_EQ(r.body, errorJson("body is nested too deeply (limit 32 levels)")) << levels;
    }
    EXPECT_EQ(warnings(), before) << "the client's mistake is not the server's warning";
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"echo","message":"ok"})", cookie).body,
              "{\"echo\":\"ok\"}");
}

TEST_F(AuthApiTest, ForceCloseClosesTheConnectionAfterTheResponse) {
    Login l = login(port(), "username", "alice", "password123");
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port()));
    session.setTimeout(Poco::Timespan(10, 0));
    session.setKeepAlive(true);
    auto send = [&](const std::string& body) {
        Poco::Net::HTTPRequest request("POST", "/communicate", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.set("Cookie", "sessionToken=" + l.auth.cookie);
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string text;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), text);
        return std::pair{response, text};
    };
    auto [kept, keptBody] = send(R"({"action":"echo","message":"1"})");
    EXPECT_TRUE(kept.getKeepAlive());
    auto [closed, closedBody] = send(R"({"action":"close"})");
    EXPECT_EQ(closed.getStatus(), 200);
    EXPECT_EQ(closedBody, "{\"bye\":true}");
    EXPECT_FALSE(closed.getKeepAlive());
    EXPECT_EQ(Poco::toLower(closed.get("Connection", "")), "close");
    // The session survives a force_close.
    EXPECT_EQ(
        post(port(), "/communicate", R"({"action":"echo","message":"2"})", {l.auth.cookie, ""})
            .body,
        "{\"echo\":\"2\"}");
}

TEST_F(AuthApiTest, ForceLogoutEndsTheSession) {
    Login l = login(port(), "username", "alice", "password123");
    EventStream events(server->admin(), "session.revoked");
    HttpResult r = post(port(), "/communicate", R"({"action":"logout"})", {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"logged_out\":true}");
    EXPECT_EQ(r.header("Set-Cookie"),
              "sessionToken=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    EXPECT_EQ(post(port(), "/communicate", R"({"action":"echo"})", {l.auth.cookie, ""}).status,
              401);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 401);
    auto event = events.next("session.revoked", "force_logout");
    ASSERT_TRUE(event);
    EXPECT_NE(event->data.find("\"username\":\"alice\""), std::string::npos) << event->data;
}

TEST_F(AuthApiTest, HookThatFailsOrLoopsIs500AndTheServerKeepsServing) {
    Login l = login(port(), "username", "alice", "password123");
    Auth cookie{l.auth.cookie, ""};
    for (const char* action : {"boom", "loop", "text"}) {
        HttpResult r =
            post(port(), "/communicate", std::string("{\"action\":\"") + action + "\"}", cookie);
        EXPECT_EQ(r.status, 500) << action;
        EXPECT_EQ(r.body, errorJson(action == std::string("text")
                                        ? "communicate hook returned an invalid response"
                                        : "communicate hook failed"))
            << action;
        EXPECT_EQ(post(port(), "/communicate", R"({"action":"echo","message":"ok"})", cookie).body,
                  "{\"echo\":\"ok\"}");
    }
    EXPECT_TRUE(server->process->waitForLog("kaboom"));
    EXPECT_TRUE(server->process->waitForLog("instruction budget exceeded"));
    EXPECT_TRUE(server->process->running());
}

// ---------------------------------------------------------------------------------------------
// POST /password/change

TEST_F(AuthApiTest, PasswordChangeKeepsThisLoginAndEndsTheOthers) {
    registerUser(port(), "gina@example.com", "password123", "gina");
    Login current = login(port(), "username", "gina", "password123");
    Login other = login(port(), "email", "gina@example.com", "password123");
    ASSERT_TRUE(current.ok() && other.ok());
    HttpResult r = post(port(), "/password/change",
                        R"({"current_password":"password123","new_password":"n3w-password"})",
                        {current.auth.cookie, ""});
    ASSERT_EQ(r.status, 200) << r.body;
    std::string fresh = jsonString(r.body, "access_token");
    EXPECT_EQ(r.body, "{\"message\":\"Password changed.\",\"access_token\":\"" + fresh +
                          "\",\"token_type\":\"bearer\"}");
    EXPECT_EQ(call("GET", port(), "/me", "", {current.auth.cookie, ""}).status, 200);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", fresh}).status, 200);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", current.auth.bearer}).status, 401);
    EXPECT_EQ(call("GET", port(), "/me", "", {other.auth.cookie, ""}).status, 401);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", other.auth.bearer}).status, 401);
    EXPECT_EQ(login(port(), "username", "gina", "password123").result.status, 401);
    EXPECT_TRUE(login(port(), "username", "gina", "n3w-password").ok());
}

TEST_F(AuthApiTest, PasswordChangeByBearerTokenOnly) {
    registerUser(port(), "hank@example.com", "password123", "hank");
    Login l = login(port(), "username", "hank", "password123");
    HttpResult r = post(port(), "/password/change",
                        R"({"current_password":"password123","new_password":"another-one"})",
                        {"", l.auth.bearer});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 401);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", jsonString(r.body, "access_token")}).status, 200);
    // The bearer's own login session stays alive.
    EXPECT_EQ(call("GET", port(), "/me", "", {l.auth.cookie, ""}).status, 200);
}

TEST_F(AuthApiTest, PasswordChangeErrors) {
    registerUser(port(), "ivy@example.com", "password123", "ivy");
    Login l = login(port(), "username", "ivy", "password123");
    Auth cookie{l.auth.cookie, ""};
    struct Case {
        std::string body;
        int status;
        std::string error;
    } cases[] = {
        {R"({"current_password":"wrong-one!","new_password":"n3w-password"})", 403,
         "Current password is incorrect."},
        {R"({"current_password":"password123","new_password":"short"})", 400,
         "password must be at least 8 characters"},
        {R"({"new_password":"n3w-password"})", 400, "missing key: current_password"},
        {R"({"current_password":"password123"})", 400, "missing key: new_password"},
        {R"({"current_password":"password123","new_password":12345678})", 400,
         "new_password must be a string"},
        {"nope", 400, "body is not valid JSON"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/password/change", c.body, cookie);
        EXPECT_EQ(r.status, c.status) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    HttpResult anonymous = post(port(), "/password/change",
                                R"({"current_password":"password123","new_password":"x2345678"})");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.body, errorJson("Authentication required."));
    // Static accounts are changed in the config, not here.
    Login alice = login(port(), "username", "alice", "password123");
    HttpResult ro = post(port(), "/password/change",
                         R"({"current_password":"password123","new_password":"x2345678"})",
                         {alice.auth.cookie, ""});
    EXPECT_EQ(ro.status, 403);
    EXPECT_EQ(ro.body, errorJson("account is managed in the configuration (auth.credentials)"));
    EXPECT_TRUE(login(port(), "username", "ivy", "password123").ok());  // unchanged
}

// ---------------------------------------------------------------------------------------------
// POST /email/change

TEST_F(AuthApiTest, EmailChangeMovesTheLogin) {
    std::int64_t id = registerUser(port(), "jack@example.com", "password123");
    Login l = login(port(), "email", "jack@example.com", "password123");
    HttpResult r = post(port(), "/email/change",
                        R"({"email":"jack@example.org","current_password":"password123"})",
                        {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"message\":\"Email changed.\",\"email\":\"jack@example.org\"}");
    EXPECT_EQ(
        call("GET", port(), "/me", "", l.auth).body,
        "{\"id\":" + std::to_string(id) + ",\"email\":\"jack@example.org\",\"username\":null}");
    EXPECT_EQ(login(port(), "email", "jack@example.com", "password123").result.status, 401);
    EXPECT_TRUE(login(port(), "email", "jack@example.org", "password123").ok());
    // The old address is free again.
    registerUser(port(), "jack@example.com", "password123");
}

TEST_F(AuthApiTest, EmailChangeErrors) {
    registerUser(port(), "kate@example.com", "password123", "kate");
    registerUser(port(), "taken@example.com", "password123");
    Login l = login(port(), "username", "kate", "password123");
    Auth cookie{l.auth.cookie, ""};
    struct Case {
        std::string body;
        int status;
        std::string error;
    } cases[] = {
        {R"({"email":"taken@example.com","current_password":"password123"})", 409,
         "Email already registered"},
        {R"({"email":"TAKEN@example.com","current_password":"password123"})", 409,
         "Email already registered"},
        {R"({"email":"bad","current_password":"password123"})", 400,
         "email is not a valid email address"},
        {R"({"email":"kate@example.org","current_password":"nope-nope"})", 403,
         "Current password is incorrect."},
        {R"({"current_password":"password123"})", 400, "missing key: email"},
        {R"({"email":"kate@example.org"})", 400, "missing key: current_password"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/email/change", c.body, cookie);
        EXPECT_EQ(r.status, c.status) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    EXPECT_EQ(post(port(), "/email/change",
                   R"({"email":"kate@example.org","current_password":"password123"})")
                  .status,
              401);
    // Changing to its own address (another case) is fine.
    EXPECT_EQ(post(port(), "/email/change",
                   R"({"email":"KATE@example.com","current_password":"password123"})", cookie)
                  .status,
              200);
}

// ---------------------------------------------------------------------------------------------
// DELETE /account

TEST_F(AuthApiTest, DeleteAccountRemovesEverythingAndPublishesEvents) {
    std::int64_t id = registerUser(port(), "liam@example.com", "password123", "liam");
    Login l = login(port(), "username", "liam", "password123");
    Login second = login(port(), "username", "liam", "password123");
    EventStream deleted(server->admin(), "user.deleted");
    EventStream revoked(server->admin(), "session.revoked");
    HttpResult r = call("DELETE", port(), "/account", R"({"current_password":"password123"})",
                        {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"message\":\"Account deleted.\"}");
    EXPECT_EQ(r.header("Set-Cookie"),
              "sessionToken=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    auto event = deleted.next("user.deleted", "\"user_id\":" + std::to_string(id));
    ASSERT_TRUE(event);
    EXPECT_EQ(event->data, "{\"user_id\":" + std::to_string(id) +
                               ",\"username\":\"liam\",\"email\":\"liam@example.com\"}");
    EXPECT_TRUE(revoked.next("session.revoked", "account_deleted"));
    for (const Auth& auth : {Auth{l.auth.cookie, ""}, Auth{"", l.auth.bearer},
                             Auth{second.auth.cookie, ""}, Auth{"", second.auth.bearer}}) {
        EXPECT_EQ(call("GET", port(), "/me", "", auth).status, 401);
    }
    EXPECT_EQ(login(port(), "username", "liam", "password123").result.status, 401);
    // Ids are never reused: the same name and email register as a new account.
    std::int64_t again = registerUser(port(), "liam@example.com", "password123", "liam");
    EXPECT_GT(again, id);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", second.auth.bearer}).status, 401);
}

TEST_F(AuthApiTest, DeleteAccountErrors) {
    registerUser(port(), "mia@example.com", "password123", "mia");
    Login l = login(port(), "username", "mia", "password123");
    HttpResult wrong = call("DELETE", port(), "/account", R"({"current_password":"no-no-no"})",
                            {l.auth.cookie, ""});
    EXPECT_EQ(wrong.status, 403);
    EXPECT_EQ(wrong.body, errorJson("Current password is incorrect."));
    HttpResult missing = call("DELETE", port(), "/account", "{}", {l.auth.cookie, ""});
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.body, errorJson("missing key: current_password"));
    HttpResult anonymous = call("DELETE", port(), "/account", R"({"current_password":"x"})");
    EXPECT_EQ(anonymous.status, 401);
    Login alice = login(port(), "username", "alice", "password123");
    HttpResult ro = call("DELETE", port(), "/account", R"({"current_password":"password123"})",
                         {"", alice.auth.bearer});
    EXPECT_EQ(ro.status, 403);
    EXPECT_EQ(ro.body, errorJson("account is managed in the configuration (auth.credentials)"));
    EXPECT_EQ(call("GET", port(), "/me", "", l.auth).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Admin routes

TEST_F(AuthApiTest, AdminListsUsersAndSessionsAndRevokes) {
    std::int64_t id = registerUser(port(), "nora@example.com", "password123", "nora");
    Login l = login(port(), "username", "nora", "password123");
    HttpResult users = admin("GET", server->admin(), "/users?limit=1000");
    EXPECT_EQ(users.status, 200);
    EXPECT_NE(users.body.find("{\"id\":" + std::to_string(id) +
                              ",\"username\":\"nora\",\"email\":\"nora@example.com\","
                              "\"source\":\"registered\",\"created_at\":"),
              std::string::npos)
        << users.body;
    EXPECT_NE(users.body.find("\"username\":\"alice\",\"email\":null,\"source\":\"config\""),
              std::string::npos);
    EXPECT_EQ(users.body.find("password"), std::string::npos);
    EXPECT_EQ(users.body.find("argon2"), std::string::npos);
    EXPECT_EQ(admin("GET", server->admin(), "/users?limit=1&offset=0").body.find("},{"),
              std::string::npos);
    EXPECT_EQ(admin("GET", server->admin(), "/users?limit=abc").body,
              errorJson("limit must be an integer from 1 to 1000"));
    EXPECT_EQ(admin("GET", server->admin(), "/users?offset=-2").body,
              errorJson("offset must be a non-negative integer"));
    // q matches the username or the email, ignoring case; '%' and '_' are literal.
    registerUser(port(), "norbert@example.org", "password123", "norbert");
    HttpResult found = admin("GET", server->admin(), "/users?q=NOR&limit=1");
    EXPECT_EQ(found.status, 200);
    EXPECT_NE(found.body.find("\"username\":\"nora\""), std::string::npos) << found.body;
    EXPECT_EQ(found.body.find("norbert"), std::string::npos) << found.body;
    EXPECT_NE(found.body.find("\"total\":2,\"limit\":1,\"offset\":0}"), std::string::npos)
        << found.body;
    HttpResult second = admin("GET", server->admin(), "/users?q=nor&limit=1&offset=1");
    EXPECT_NE(second.body.find("\"username\":\"norbert\""), std::string::npos) << second.body;
    HttpResult byEmail = admin("GET", server->admin(), "/users?q=example.org");
    EXPECT_NE(byEmail.body.find("norbert"), std::string::npos) << byEmail.body;
    EXPECT_NE(byEmail.body.find("\"total\":1,"), std::string::npos) << byEmail.body;
    EXPECT_NE(admin("GET", server->admin(), "/users?q=n%25a").body.find("\"total\":0,"),
              std::string::npos);
    EXPECT_NE(admin("GET", server->admin(), "/users?q=n_ra").body.find("\"total\":0,"),
              std::string::npos);

    HttpResult sessions = admin("GET", server->admin(), "/sessions?user_id=" + std::to_string(id));
    EXPECT_EQ(sessions.status, 200);
    std::string sessionId =
        jsonString(post(port(), "/communicate", R"({"action":"whoami"})", {l.auth.cookie, ""}).body,
                   "session_id");
    EXPECT_NE(sessions.body.find("{\"id\":\"" + sessionId + "\",\"user_id\":" + std::to_string(id) +
                                 ",\"username\":\"nora\",\"created_at\":"),
              std::string::npos)
        << sessions.body;
    EXPECT_NE(sessions.body.find("\"peer\":\"127.0.0.1\""), std::string::npos);
    EXPECT_EQ(sessions.body.find(l.auth.cookie), std::string::npos);  // never the secret
    EXPECT_NE(sessions.body.find("],\"total\":1,\"limit\":100,\"offset\":0}"), std::string::npos)
        << sessions.body;
    EXPECT_NE(admin("GET", server->admin(), "/sessions?q=NORA").body.find(sessionId),
              std::string::npos);
    EXPECT_EQ(admin("GET", server->admin(), "/sessions?q=nobody-like-this").body.find(sessionId),
              std::string::npos);
    EXPECT_EQ(admin("GET", server->admin(), "/sessions?limit=1001").status, 400);

    EventStream events(server->admin(), "session.revoked");
    HttpResult revoke = admin("DELETE", server->admin(), "/sessions/" + sessionId);
    EXPECT_EQ(revoke.status, 200);
    EXPECT_EQ(revoke.body, "{\"revoked\":true}");
    auto event = events.next("session.revoked", sessionId);
    ASSERT_TRUE(event);
    EXPECT_EQ(event->data, "{\"session_id\":\"" + sessionId + "\",\"user_id\":" +
                               std::to_string(id) + ",\"username\":\"nora\",\"reason\":\"admin\"}");
    EXPECT_EQ(call("GET", port(), "/me", "", {l.auth.cookie, ""}).status, 401);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 401);
    HttpResult unknown = admin("DELETE", server->admin(), "/sessions/" + sessionId);
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body, errorJson("Session not found"));
    EXPECT_EQ(http("GET", server->admin(), "/admin/api/auth/users").status, 401);
}

TEST_F(AuthApiTest, AdminDeletesAUserEverywhere) {
    std::int64_t id = registerUser(port(), "olga@example.com", "password123", "olga");
    Login l = login(port(), "username", "olga", "password123");
    EventStream deleted(server->admin(), "user.deleted");
    EventStream revoked(server->admin(), "session.revoked");
    HttpResult r = admin("DELETE", server->admin(), "/users/" + std::to_string(id));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"deleted\":true,\"id\":" + std::to_string(id) + "}");
    auto event = deleted.next("user.deleted", "\"user_id\":" + std::to_string(id));
    ASSERT_TRUE(event);
    EXPECT_EQ(event->data, "{\"user_id\":" + std::to_string(id) +
                               ",\"username\":\"olga\",\"email\":\"olga@example.com\"}");
    EXPECT_TRUE(revoked.next("session.revoked", "account_deleted"));
    EXPECT_EQ(call("GET", port(), "/me", "", {l.auth.cookie, ""}).status, 401);
    EXPECT_EQ(call("GET", port(), "/me", "", {"", l.auth.bearer}).status, 401);
    EXPECT_EQ(login(port(), "username", "olga", "password123").result.status, 401);
    EXPECT_EQ(admin("GET", server->admin(), "/users?limit=1000").body.find("\"olga\""),
              std::string::npos);

    HttpResult again = admin("DELETE", server->admin(), "/users/" + std::to_string(id));
    EXPECT_EQ(again.status, 404);
    EXPECT_EQ(again.body, errorJson("Account not found"));
    for (const char* bad : {"abc", "-1", "1.5", "99999999999999999999"}) {
        HttpResult b = admin("DELETE", server->admin(), std::string("/users/") + bad);
        EXPECT_EQ(b.status, 400) << bad;
        EXPECT_EQ(b.body, errorJson("user id must be a positive integer")) << bad;
    }
    Login alice = login(port(), "username", "alice", "password123");
    std::int64_t aliceId =
        jsonInt(call("GET", port(), "/me", "", {"", alice.auth.bearer}).body, "id");
    HttpResult ro = admin("DELETE", server->admin(), "/users/" + std::to_string(aliceId));
    EXPECT_EQ(ro.status, 403);
    EXPECT_EQ(ro.body, errorJson("account is managed in the configuration (auth.credentials)"));
    EXPECT_EQ(
        http("DELETE", server->admin(), "/admin/api/auth/users/" + std::to_string(aliceId)).status,
        401);
}

TEST_F(AuthApiTest, MetricsCountChecksAndSessions) {
    login(port(), "username", "alice", "password123");
    HttpResult m = http("GET", server->admin(), "/metrics", "",
                        {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(m.body.find("switchboard_auth_password_checks_total{result=\"ok\"}"),
              std::string::npos)
        << m.body;
    EXPECT_NE(m.body.find("switchboard_auth_sessions_active"), std::string::npos);
    EXPECT_NE(m.body.find("switchboard_auth_hash_queue 0"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// A failing store

TEST(AuthStoreFailureTest, AFailingStoreIs503WithRetryAfter) {
    AuthServer server(authPlugin(", credentials: { alice: password123 }"));
    ASSERT_TRUE(server.ready);
    std::string database = server.dir.path() + "/var/switchboard.db";
    executeOnDatabase(database, "ALTER TABLE auth_users RENAME TO auth_users_away");
    for (auto [path, body] :
         {std::pair{"/register", R"({"email":"zed@example.com","password":"password123"})"},
          std::pair{"/login", R"({"username":"alice","password":"password123"})"}}) {
        HttpResult r = post(server.pub(), path, body);
        EXPECT_EQ(r.status, 503) << path;
        EXPECT_EQ(r.header("Retry-After"), "1") << path;
        EXPECT_EQ(r.body, errorJson("account store unavailable")) << path;
    }
    executeOnDatabase(database, "ALTER TABLE auth_users_away RENAME TO auth_users");
    EXPECT_TRUE(login(server.pub(), "username", "alice", "password123").ok());
}

TEST(AuthRestartTest, RoutesAnswer503WhileARequestInsideHoldsTheRestart) {
    std::string script = std::string(kLuaHold) +
                         "function on_communicate(username, token, data)\n"
                         "  if data.hold then hold_here() end\n"
                         "  return false, false, { held = data.hold == true }\n"
                         "end\n";
    std::string plugin = authPlugin(", credentials: { alice: password123 }");
    AuthServer server(plugin, script, "", [](AuthServer& s) { s.yaml = forHolding(s.yaml); });
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    auto held = std::async(std::launch::async, [&] {
        return post(server.pub(), "/communicate", R"({"hold":true})", {l.auth.cookie, ""});
    });
    ASSERT_TRUE(server.process->waitForLog("hook holding here")) << server.log();
    // A changed section restarts the plugin; it waits for the call inside.
    server.dir.write(
        "switchboard.yaml",
        forHolding(configYaml(server.dir, server.ports,
                              authPlugin(", credentials: { alice: password123 }, "
                                         "password_min_length: 9"),
                              "lua: { scripts: [" + server.dir.file("hooks.lua") + "] }\n")));
    auto reload = std::async(std::launch::async, [&] {
        return http("POST", server.admin(), "/admin/api/reload", "",
                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    });
    HttpResult restarting;
    EXPECT_TRUE(eventually([&] {
        restarting = call("GET", server.pub(), "/me", "", {"", l.auth.bearer});
        return restarting.status != 200;
    }));
    EXPECT_EQ(restarting.status, 503);
    EXPECT_EQ(restarting.header("Retry-After"), "1");
    EXPECT_EQ(restarting.body, errorJson("plugin auth is restarting; retry shortly"));
    EXPECT_EQ(post(server.pub(), "/login", R"({"username":"alice","password":"password123"})").body,
              restarting.body);
    releaseLuaHold(server.dir.path() + "/var/switchboard.db");
    HttpResult answered = held.get();
    EXPECT_EQ(answered.status, 200);
    EXPECT_EQ(answered.body, "{\"held\":true}");
    EXPECT_EQ(reload.get().status, 200);
    // The new instance knows the session and the token.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", l.auth.bearer}).status, 200);
    EXPECT_EQ(post(server.pub(), "/communicate", "{}", {l.auth.cookie, ""}).body,
              "{\"held\":false}");
}

// ---------------------------------------------------------------------------------------------
// Without an on_communicate hook

TEST(AuthNoHookTest, CommunicateWithoutHookIs501) {
    AuthServer server(authPlugin(", credentials: { alice: password123 }"));
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    HttpResult r = post(server.pub(), "/communicate", R"({"action":"echo"})", {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 501);
    EXPECT_EQ(r.body, errorJson("no on_communicate hook is defined (see docs/plugins/auth.md)"));
    // Unauthenticated callers learn nothing about the hook.
    EXPECT_EQ(post(server.pub(), "/communicate", "{}").status, 401);
    // The benchmark route is not mounted by default.
    EXPECT_EQ(post(server.pub(), "/_bench/communicate", "{}", {l.auth.cookie, ""}).status, 404);
}

TEST(AuthNoHookTest, BenchmarkRouteEchoesInCpp) {
    AuthServer server(authPlugin(", credentials: { alice: password123 }, benchmark_route: true"));
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    HttpResult r = post(server.pub(), "/_bench/communicate", R"({"action":"echo","n":[1,{}]})",
                        {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"action":"echo","n":[1,{}]})");
    EXPECT_EQ(post(server.pub(), "/_bench/communicate", "{}").status, 401);
}

}  // namespace
}  // namespace switchboard::test::auth
