// Cookie sessions of the auth plugin: idle timeout, lifetime, the Lua session_valid rule (in
// the periodic sweep and on use), cookie attributes, the per-account cap, and persistence.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>

#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

struct SslInit {
    SslInit() { Poco::Net::initializeSSL(); }
    ~SslInit() { Poco::Net::uninitializeSSL(); }
};
SslInit sslInit;

/// Users the session tests log in as: alice passes the rule, mallory fails it, boom and loop
/// break it.
const std::string kUsers =
    ", credentials: { alice: password123, mallory: password123, boom: password123, "
    "loop: password123 }";

const char* kRule = R"(
function session_valid(s)
  store.put("seen:" .. s.username, s)
  if s.username == "mallory" then return false end
  if s.username == "boom" then error("rule broke") end
  if s.username == "loop" then while true do end end
  return true
end

function on_communicate(username, token, data, session_id)
  return false, false, { seen = store.get("seen:" .. username), session_id = session_id }
end
)";

std::string sessions(const std::string& settings) {
    return ", sessions: { " + settings + " }";
}

bool sessionEnded(const AuthServer& server, const Auth& auth) {
    return call("GET", server.pub(), "/me", "", {auth.cookie, ""}).status == 401;
}

TEST(AuthSessionTest, IdleSessionsEndInTheSweepButTheirJwtStays) {
    AuthServer server(authPlugin(kUsers + sessions("idle_timeout: 1s, check_interval: 100ms")));
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "session.revoked");
    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    auto event = events.next("session.revoked", "idle_timeout");
    ASSERT_TRUE(event) << server.log();
    EXPECT_NE(event->data.find("\"username\":\"alice\""), std::string::npos);
    EXPECT_TRUE(sessionEnded(server, l.auth));
    // An idle cookie session does not revoke the JWT issued with it; that has its own exp.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", l.auth.bearer}).status, 200);
}

TEST(AuthSessionTest, IdleTimeoutIsAlsoCheckedOnUse) {
    AuthServer server(authPlugin(kUsers + sessions("idle_timeout: 1s, check_interval: 1h")));
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    auto loggedIn = std::chrono::steady_clock::now();
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
    EventStream events(server.admin(), "session.revoked");
    eventually([&] { return std::chrono::steady_clock::now() - loggedIn > 1500ms; }, 5s);
    HttpResult r = post(server.pub(), "/logout", "", {l.auth.cookie, ""});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, errorJson("Invalid session token."));
    EXPECT_TRUE(events.next("session.revoked", "idle_timeout"));
}

TEST(AuthSessionTest, LifetimeEndsASessionInUse) {
    AuthServer server(
        authPlugin(kUsers + sessions("idle_timeout: 0s, lifetime: 1s, check_interval: 1h")));
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "session.revoked");
    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    EXPECT_TRUE(eventually([&] { return sessionEnded(server, l.auth); }, 10s));
    EXPECT_TRUE(events.next("session.revoked", "\"reason\":\"lifetime\""));
}

TEST(AuthSessionTest, SessionValidRuleEndsSessionsInTheSweep) {
    AuthServer server(authPlugin(kUsers + sessions("check_interval: 100ms")), kRule);
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "session.revoked");
    Login alice = login(server.pub(), "username", "alice", "password123");
    Login mallory = login(server.pub(), "username", "mallory", "password123");
    ASSERT_TRUE(alice.ok() && mallory.ok());
    auto event = events.next("session.revoked", "\"reason\":\"session_valid\"");
    ASSERT_TRUE(event) << server.log();
    EXPECT_NE(event->data.find("\"username\":\"mallory\""), std::string::npos) << event->data;
    EXPECT_TRUE(sessionEnded(server, mallory.auth));
    // A session the rule ends takes its JWT with it.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", mallory.auth.bearer}).status, 401);
    EXPECT_FALSE(sessionEnded(server, alice.auth));

    // What the rule sees: the session's public fields (never the cookie value).
    HttpResult r = post(server.pub(), "/communicate", "{}", {alice.auth.cookie, ""});
    ASSERT_EQ(r.status, 200) << r.body;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("seen") && d["seen"].IsObject()) << r.body;
    const auto& seen = d["seen"];
    EXPECT_EQ(std::string(seen["id"].GetString()), std::string(d["session_id"].GetString()));
    EXPECT_EQ(std::string(seen["username"].GetString()), "alice");
    EXPECT_EQ(std::string(seen["peer"].GetString()), "127.0.0.1");
    EXPECT_TRUE(seen["user_id"].IsInt64());
    EXPECT_NEAR(seen["created_at"].GetDouble(), static_cast<double>(epochSeconds()), 60);
    EXPECT_GE(seen["last_used"].GetDouble(), seen["created_at"].GetDouble());
    EXPECT_EQ(seen.MemberCount(), 6u) << r.body;
    EXPECT_EQ(r.body.find(alice.auth.cookie), std::string::npos);
}

TEST(AuthSessionTest, SessionValidRuleIsCheckedOnUse) {
    AuthServer server(authPlugin(kUsers + sessions("check_interval: 1h")), kRule);
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "session.revoked");
    Login mallory = login(server.pub(), "username", "mallory", "password123");
    ASSERT_TRUE(mallory.ok());
    HttpResult r = post(server.pub(), "/communicate", "{}", {mallory.auth.cookie, ""});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, errorJson("Invalid session token."));
    EXPECT_TRUE(events.next("session.revoked", "\"reason\":\"session_valid\""));
    Login alice = login(server.pub(), "username", "alice", "password123");
    EXPECT_EQ(post(server.pub(), "/communicate", "{}", {alice.auth.cookie, ""}).status, 200);
}

TEST(AuthSessionTest, ARuleThatThrowsOrLoopsKeepsTheSessions) {
    AuthServer server(authPlugin(kUsers + sessions("check_interval: 100ms")), kRule);
    ASSERT_TRUE(server.ready);
    std::vector<Login> logins;
    for (int i = 0; i < 4; ++i) {
        logins.push_back(login(server.pub(), "username", "boom", "password123"));
    }
    logins.push_back(login(server.pub(), "username", "loop", "password123"));
    EXPECT_TRUE(server.process->waitForLog("rule broke"));
    EXPECT_TRUE(server.process->waitForLog("instruction budget exceeded"));
    // Three failures in a row stop that round: a broken rule cannot hold the timer thread.
    EXPECT_TRUE(server.process->waitForLog("not checked this round"));
    EXPECT_TRUE(server.process->waitForLog("keeping it"));
    for (const auto& l : logins) {
        // On use the rule fails again; the request goes through.
        EXPECT_EQ(call("GET", server.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
    }
    HttpResult list = admin("GET", server.admin(), "/sessions");
    std::size_t count = 0;
    for (std::size_t at = list.body.find("\"user_id\""); at != std::string::npos;
         at = list.body.find("\"user_id\"", at + 1)) {
        ++count;
    }
    EXPECT_EQ(count, 5u) << list.body;
    EXPECT_TRUE(server.process->running());
}

TEST(AuthSessionTest, OldestSessionEndsBeyondMaxPerUser) {
    AuthServer server(authPlugin(kUsers + sessions("max_per_user: 2")));
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "session.revoked");
    Login first = login(server.pub(), "username", "alice", "password123");
    Login second = login(server.pub(), "username", "alice", "password123");
    Login third = login(server.pub(), "username", "alice", "password123");
    EXPECT_TRUE(events.next("session.revoked", "too_many_sessions"));
    EXPECT_TRUE(sessionEnded(server, first.auth));
    EXPECT_FALSE(sessionEnded(server, second.auth));
    EXPECT_FALSE(sessionEnded(server, third.auth));
    Login other = login(server.pub(), "username", "mallory", "password123");
    EXPECT_FALSE(sessionEnded(server, other.auth));
}

TEST(AuthSessionTest, SessionsAndRevocationsSurviveRestarts) {
    AuthServer server(authPlugin(kUsers));
    ASSERT_TRUE(server.ready);
    Login kept = login(server.pub(), "username", "alice", "password123");
    Login ended = login(server.pub(), "username", "mallory", "password123");
    ASSERT_EQ(post(server.pub(), "/logout", "", ended.auth).status, 200);
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {kept.auth.cookie, ""}).status, 200);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", kept.auth.bearer}).status, 200);
    EXPECT_TRUE(sessionEnded(server, ended.auth));
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", ended.auth.bearer}).status, 401);

    // A login is durable when its reply is sent.
    Login fresh = login(server.pub(), "username", "boom", "password123");
    server.restart(SIGKILL);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {fresh.auth.cookie, ""}).status, 200);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {kept.auth.cookie, ""}).status, 200);
}

TEST(AuthSessionTest, SessionsThatExpiredWhileStoppedAreGoneAfterStart) {
    AuthServer server(authPlugin(kUsers + sessions("lifetime: 1s, check_interval: 1h")));
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    auto loggedIn = std::chrono::steady_clock::now();
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    eventually([&] { return std::chrono::steady_clock::now() - loggedIn > 1500ms; }, 5s);
    server.start();
    ASSERT_TRUE(server.ready);
    EXPECT_TRUE(server.process->waitForLog("1 session(s) expired while the server was down"));
    EXPECT_EQ(admin("GET", server.admin(), "/sessions").body,
              "{\"items\":[],\"total\":0,\"limit\":100,\"offset\":0}");
    EXPECT_TRUE(sessionEnded(server, l.auth));
}

// ---------------------------------------------------------------------------------------------
// Cookie attributes

std::string setCookieWith(const std::string& sessionSettings) {
    AuthServer server(authPlugin(kUsers + sessions(sessionSettings)));
    EXPECT_TRUE(server.ready);
    return login(server.pub(), "username", "alice", "password123").result.header("Set-Cookie");
}

TEST(AuthCookieTest, SameSiteFollowsTheConfig) {
    std::regex lax("^sessionToken=[0-9a-f]{64}; HttpOnly; SameSite=Lax; Path=/$");
    std::string c = setCookieWith("cookie_samesite: Lax");
    EXPECT_TRUE(std::regex_match(c, lax)) << c;
    // The seed's "None": no SameSite attribute at all.
    std::regex none("^sessionToken=[0-9a-f]{64}; HttpOnly; Path=/$");
    c = setCookieWith("cookie_samesite: None");
    EXPECT_TRUE(std::regex_match(c, none)) << c;
    std::regex always("^sessionToken=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/; Secure$");
    c = setCookieWith("cookie_secure: always");
    EXPECT_TRUE(std::regex_match(c, always)) << c;
}

TEST(AuthCookieTest, SecureUnderTls) {
    // TLS on the public listener (a self-signed certificate is generated at start).
    AuthServer server(authPlugin(kUsers), "", "", [](AuthServer& s) {
        std::string marker = "public: { bind: 127.0.0.1, port: " + std::to_string(s.ports.pub);
        s.yaml.insert(s.yaml.find(marker) + marker.size(),
                      ", tls: { cert: var/tls/cert.pem, key: var/tls/key.pem }");
    });
    ASSERT_TRUE(server.ready);
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
    Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server.pub()),
                                          context);
    session.setTimeout(Poco::Timespan(10, 0));
    std::string body = R"({"username":"alice","password":"password123"})";
    Poco::Net::HTTPRequest request("POST", "/login", Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::string text;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), text);
    EXPECT_EQ(response.getStatus(), 200) << text;
    std::regex secure("^sessionToken=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/; Secure$");
    EXPECT_TRUE(std::regex_match(response.get("Set-Cookie", ""), secure))
        << response.get("Set-Cookie", "");
}

// ---------------------------------------------------------------------------------------------
// The example hooks shipped in plugins/auth/hooks/

TEST(AuthExampleHooksTest, ExampleHooksWorkAsDocumented) {
    std::string hooks = std::string(SB_SOURCE_DIR) + "/plugins/auth/hooks/";
    AuthServer server(
        authPlugin(kUsers + sessions("check_interval: 100ms")), "",
        "lua: { scripts: [" + hooks + "on_communicate.lua, " + hooks + "session_valid.lua] }\n");
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    Auth cookie{l.auth.cookie, ""};
    EXPECT_EQ(
        post(server.pub(), "/communicate", R"({"action":"echo","message":"hi"})", cookie).body,
        "{\"echo\":\"hi\"}");
    EXPECT_EQ(post(server.pub(), "/communicate", R"({"action":"count"})", cookie).body,
              "{\"calls\":1}");
    EXPECT_EQ(post(server.pub(), "/communicate", R"({"action":"count"})", cookie).body,
              "{\"calls\":2}");
    EXPECT_EQ(post(server.pub(), "/communicate", R"({"action":"dance"})", cookie).body,
              "{\"error\":\"Unknown action.\"}");
    // session_valid (on every use above, and in the sweeps) kept the session.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", cookie).status, 200);
    HttpResult bye = post(server.pub(), "/communicate", R"({"action":"bye"})", cookie);
    EXPECT_EQ(bye.body, "{\"message\":\"Goodbye, alice.\"}");
    EXPECT_EQ(bye.header("Connection"), "close");
    EXPECT_TRUE(sessionEnded(server, l.auth));
    EXPECT_EQ(server.log().find("failed"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace switchboard::test::auth
