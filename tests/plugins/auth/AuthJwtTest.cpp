// JWT handling of the auth plugin: forged, tampered, expired and revoked tokens are refused;
// the signing secret is generated and kept when the config has none.
#include <sys/stat.h>

#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

const std::string kHs256 = R"({"alg":"HS256","typ":"JWT"})";

class AuthJwtTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server =
            new AuthServer(authPlugin(", credentials: { alice: password123, bob: password456 }"));
        Login l = login(server->pub(), "username", "alice", "password123");
        EXPECT_TRUE(l.ok()) << l.result.body;
        aliceToken = new std::string(l.auth.bearer);
        aliceId = jsonInt(call("GET", server->pub(), "/me", "", {"", l.auth.bearer}).body, "id");
        bobId = jsonInt(call("GET", server->pub(), "/me", "",
                             login(server->pub(), "username", "bob", "password456").auth)
                            .body,
                        "id");
    }
    static void TearDownTestSuite() {
        delete server;
        delete aliceToken;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }

    /// The status of GET /me with `token` as the bearer.
    static HttpResult me(const std::string& token) {
        return call("GET", server->pub(), "/me", "", {"", token});
    }
    static void expectRefused(const std::string& token, const std::string& what) {
        HttpResult r = me(token);
        EXPECT_EQ(r.status, 401) << what << ": " << token;
        EXPECT_EQ(r.body, errorJson("Invalid token.")) << what;
    }

    static AuthServer* server;
    static std::string* aliceToken;
    static std::int64_t aliceId;
    static std::int64_t bobId;
};

AuthServer* AuthJwtTest::server = nullptr;
std::string* AuthJwtTest::aliceToken = nullptr;
std::int64_t AuthJwtTest::aliceId = 0;
std::int64_t AuthJwtTest::bobId = 0;

/// Splits header.payload.signature.
std::vector<std::string> parts(const std::string& jwt) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t dot = jwt.find('.', start);
        out.push_back(jwt.substr(start, dot - start));
        if (dot == std::string::npos) {
            return out;
        }
        start = dot + 1;
    }
}

TEST_F(AuthJwtTest, ATokenForgedWithTheRightSecretAndClaimsIsAccepted) {
    // The control case: the forging helpers produce what the server accepts, so the refusals
    // below are about the one thing each test changes.
    std::int64_t now = epochSeconds();
    HttpResult r = me(forge(kHs256, claims(aliceId, now, now + 600), kSecret));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(jsonString(r.body, "username"), "alice");
    EXPECT_EQ(me(*aliceToken).status, 200);
}

TEST_F(AuthJwtTest, AlgNoneIsRefused) {
    std::int64_t now = epochSeconds();
    std::string payload = claims(aliceId, now, now + 600);
    expectRefused(forge(R"({"alg":"none","typ":"JWT"})", payload, ""), "alg none, no signature");
    expectRefused(forge(R"({"alg":"none"})", payload, ""), "alg none, no typ");
    expectRefused(forge(R"({"alg":"None","typ":"JWT"})", payload, ""), "alg None");
    expectRefused(forge(R"({"typ":"JWT"})", payload, kSecret), "no alg");
}

TEST_F(AuthJwtTest, HsToNoneSwapIsRefused) {
    // A valid token whose header is switched to none (signature kept, or dropped).
    std::vector<std::string> p = parts(*aliceToken);
    ASSERT_EQ(p.size(), 3u);
    std::string none = base64Url(R"({"alg":"none","typ":"JWT"})");
    expectRefused(none + "." + p[1] + "." + p[2], "none header, HS256 signature");
    expectRefused(none + "." + p[1] + ".", "none header, empty signature");
    expectRefused(none + "." + p[1], "none header, no signature part");
}

TEST_F(AuthJwtTest, OtherAlgorithmsAreRefusedEvenWithTheRightKey) {
    std::int64_t now = epochSeconds();
    std::string payload = claims(aliceId, now, now + 600);
    // HS384/HS512 headers over an HS256 MAC, and an RS256 header (key confusion attempt).
    for (const char* alg : {"HS384", "HS512", "RS256", "ES256", "hs256"}) {
        expectRefused(
            forge(std::string("{\"alg\":\"") + alg + "\",\"typ\":\"JWT\"}", payload, kSecret), alg);
    }
}

TEST_F(AuthJwtTest, TamperedPayloadOrSignatureIsRefused) {
    std::vector<std::string> p = parts(*aliceToken);
    ASSERT_EQ(p.size(), 3u);
    std::int64_t now = epochSeconds();
    // Another subject with the original signature.
    expectRefused(p[0] + "." + base64Url(claims(bobId, now, now + 600)) + "." + p[2],
                  "payload swapped");
    // One character of the signature changed.
    std::string sig = p[2];
    sig[sig.size() / 2] = sig[sig.size() / 2] == 'A' ? 'B' : 'A';
    expectRefused(p[0] + "." + p[1] + "." + sig, "signature changed");
    // Signed with another secret.
    expectRefused(
        forge(kHs256, claims(aliceId, now, now + 600), "another-secret-entirely-32-bytes"),
        "wrong secret");
    expectRefused("garbage", "garbage");
    expectRefused("a.b.c", "three garbage parts");
    expectRefused(*aliceToken + ".extra", "four parts");
    expectRefused(*aliceToken + ".", "trailing dot");
    expectRefused(p[0] + "." + p[1] + "." + p[2] + "=", "padding");
    expectRefused(std::string(8100, 'a'), "huge");
}

TEST_F(AuthJwtTest, ExpiredAndMalformedClaimsAreRefused) {
    std::int64_t now = epochSeconds();
    expectRefused(forge(kHs256, claims(aliceId, now - 7200, now - 3600), kSecret), "expired");
    expectRefused(forge(kHs256, claims(aliceId, now + 3600, now + 7200), kSecret),
                  "issued in the future");
    expectRefused(forge(kHs256,
                        R"({"sub":")" + std::to_string(aliceId) + R"(","iat":)" +
                            std::to_string(now) + R"(,"jti":"x"})",
                        kSecret),
                  "no exp");
    expectRefused(
        forge(kHs256,
              R"({"sub":")" + std::to_string(aliceId) + R"(","iat":)" + std::to_string(now) +
                  R"(,"exp":")" + std::to_string(now + 600) + R"(","jti":"x"})",
              kSecret),
        "exp as a string");
    expectRefused(forge(kHs256,
                        R"({"sub":")" + std::to_string(aliceId) + R"(","iat":)" +
                            std::to_string(now) + R"(,"exp":)" + std::to_string(now + 600) + R"(})",
                        kSecret),
                  "no jti");
    expectRefused(
        forge(kHs256,
              R"({"sub":)" + std::to_string(aliceId) + R"(,"iat":)" + std::to_string(now) +
                  R"(,"exp":)" + std::to_string(now + 600) + R"(,"jti":"x"})",
              kSecret),
        "sub as a number");
    expectRefused(forge(kHs256, claims(999999, now, now + 600), kSecret), "unknown account");
    expectRefused(forge(kHs256,
                        R"({"sub":"1x","iat":)" + std::to_string(now) + R"(,"exp":)" +
                            std::to_string(now + 600) + R"(,"jti":"x"})",
                        kSecret),
                  "sub not a number");
    // nbf in the future.
    expectRefused(forge(kHs256,
                        R"({"sub":")" + std::to_string(aliceId) + R"(","iat":)" +
                            std::to_string(now) + R"(,"exp":)" + std::to_string(now + 600) +
                            R"(,"nbf":)" + std::to_string(now + 300) + R"(,"jti":"x"})",
                        kSecret),
                  "nbf ahead");
}

TEST_F(AuthJwtTest, ARevokedTokenStaysRevoked) {
    Login l = login(server->pub(), "username", "bob", "password456");
    ASSERT_EQ(me(l.auth.bearer).status, 200);
    ASSERT_EQ(post(server->pub(), "/logout", "", {"", l.auth.bearer}).status, 200);
    expectRefused(l.auth.bearer, "after logout");
    // A token forged with the same jti is refused too: revocation is by jti.
    Poco::JWT::Token token(l.auth.bearer);
    std::string jti = token.payload().getValue<std::string>("jti");
    std::int64_t now = epochSeconds();
    expectRefused(forge(kHs256, claims(bobId, now, now + 600, jti), kSecret), "same jti");
}

// ---------------------------------------------------------------------------------------------
// The secret

TEST(AuthJwtSecretTest, AMissingSecretIsGeneratedKeptAndReused) {
    AuthServer server(authPlugin(", credentials: { alice: password123 }", "ttl: 1h"));
    ASSERT_TRUE(server.ready);
    std::string path = server.dir.path() + "/var/jwt-secret";
    EXPECT_TRUE(server.process->waitForLog("generated a JWT signing secret in " + path));
    std::string secret = readFile(path);
    ASSERT_EQ(secret.size(), 65u) << secret;  // 64 hex digits and a newline
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600);

    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    std::int64_t id = jsonInt(call("GET", server.pub(), "/me", "", {"", l.auth.bearer}).body, "id");
    // Tokens are signed with that secret (and ttl 1h).
    std::int64_t now = epochSeconds();
    EXPECT_EQ(call("GET", server.pub(), "/me", "",
                   {"", forge(kHs256, claims(id, now, now + 60), secret.substr(0, 64))})
                  .status,
              200);
    Poco::JWT::Token token(l.auth.bearer);
    EXPECT_EQ(
        token.payload().getValue<Poco::Int64>("exp") - token.payload().getValue<Poco::Int64>("iat"),
        3600);

    // After a restart the same secret is read back: earlier tokens and sessions still work.
    server.restart();
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(readFile(path), secret);
    EXPECT_EQ(server.log().find("generated a JWT signing secret"), std::string::npos);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", l.auth.bearer}).status, 200);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {l.auth.cookie, ""}).status, 200);
}

TEST(AuthJwtSecretTest, AConfiguredAlgorithmRefusesTheOthers) {
    AuthServer server(authPlugin(", credentials: { alice: password123 }",
                                 "secret: \"" + kSecret + "\", algorithm: HS512"));
    ASSERT_TRUE(server.ready);
    Login l = login(server.pub(), "username", "alice", "password123");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(Poco::JWT::Token(l.auth.bearer).getAlgorithm(), "HS512");
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", l.auth.bearer}).status, 200);
    std::int64_t id = jsonInt(call("GET", server.pub(), "/me", "", l.auth).body, "id");
    std::int64_t now = epochSeconds();
    HttpResult hs256 = call("GET", server.pub(), "/me", "",
                            {"", forge(kHs256, claims(id, now, now + 60), kSecret)});
    EXPECT_EQ(hs256.status, 401);
}

}  // namespace
}  // namespace switchboard::test::auth
