// Limits of the auth plugin: failed-login rate limiting per account and per client address,
// bounded Argon2id concurrency (memory), and configuration errors.
#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

const std::string kLimited = "{\"error\":\"Too many failed login attempts. Try again later.\"}";

int retryAfter(const HttpResult& r) {
    std::string value = r.header("Retry-After");
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        ADD_FAILURE() << "Retry-After: '" << value << "'";
        return 0;
    }
    return std::stoi(value);
}

TEST(AuthRateLimitTest, FailuresPerAccountLockThatAccountOnly) {
    AuthServer server(
        authPlugin(", credentials: { alice: password123, bob: password123 }, "
                   "rate_limit: { per_address: 0, per_account: 3, window: 60s }"));
    ASSERT_TRUE(server.ready);
    // Successes do not count.
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(login(server.pub(), "username", "alice", "password123").ok());
    }
    for (int i = 0; i < 3; ++i) {
        Login l = login(server.pub(), "username", "alice", "wrong-guess");
        EXPECT_EQ(l.result.status, 401) << i;
        EXPECT_EQ(l.result.header("Retry-After"), "");
    }
    // Now even the right password is refused (else guessing could go on), case-insensitively.
    for (const char* name : {"alice", "ALICE"}) {
        Login limited = login(server.pub(), "username", name, "password123");
        EXPECT_EQ(limited.result.status, 429);
        EXPECT_EQ(limited.result.body, kLimited);
        EXPECT_GE(retryAfter(limited.result), 1);
        EXPECT_LE(retryAfter(limited.result), 60);
        EXPECT_EQ(limited.result.header("Set-Cookie"), "");
    }
    // Malformed requests are 400 as before; bob is unaffected.
    EXPECT_EQ(post(server.pub(), "/login", R"({"username":"alice"})").status, 400);
    EXPECT_TRUE(login(server.pub(), "username", "bob", "password123").ok());
    // Unknown accounts are limited the same way (no hint about which names exist).
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(login(server.pub(), "username", "ghost", "x").result.status, 401);
    }
    EXPECT_EQ(login(server.pub(), "username", "ghost", "x").result.status, 429);
    HttpResult metrics = http("GET", server.admin(), "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(
        metrics.body.find("switchboard_auth_password_checks_total{result=\"rate_limited\"} 3"),
        std::string::npos)
        << metrics.body;
}

TEST(AuthRateLimitTest, ConcurrentGuessesAreCountedBeforeHashing) {
    AuthServer server(authPlugin(", rate_limit: { per_address: 0, per_account: 10, window: 60s }"));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "rita@example.com", "password123", "rita");
    std::atomic<int> evaluated{0};
    std::atomic<int> limited{0};
    std::vector<std::thread> guessers;
    for (int i = 0; i < 60; ++i) {
        guessers.emplace_back([&, i] {
            // Half by username, half by email: one account, one budget.
            Login l = i % 2 == 0 ? login(server.pub(), "username", "rita", "wrong-guess")
                                 : login(server.pub(), "email", "rita@example.com", "wrong-guess");
            if (l.result.status == 401) {
                ++evaluated;
            } else if (l.result.status == 429) {
                ++limited;
            }
        });
    }
    for (auto& t : guessers) {
        t.join();
    }
    EXPECT_EQ(evaluated.load(), 10);  // hashed and refused: exactly the limit, not all 60
    EXPECT_EQ(limited.load(), 50);
    EXPECT_EQ(login(server.pub(), "email", "RITA@example.com", "password123").result.status, 429);
}

TEST(AuthRateLimitTest, UsernameAndEmailShareTheAccountsBudget) {
    AuthServer server(authPlugin(", rate_limit: { per_address: 0, per_account: 4, window: 60s }"));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "sam@example.com", "password123", "sam");
    EXPECT_EQ(login(server.pub(), "username", "sam", "guess-1").result.status, 401);
    EXPECT_EQ(login(server.pub(), "username", "sam", "guess-2").result.status, 401);
    EXPECT_EQ(login(server.pub(), "email", "sam@example.com", "guess-3").result.status, 401);
    EXPECT_EQ(login(server.pub(), "email", "sam@example.com", "guess-4").result.status, 401);
    EXPECT_EQ(login(server.pub(), "username", "sam", "password123").result.status, 429);
    EXPECT_EQ(login(server.pub(), "email", "sam@example.com", "password123").result.status, 429);
}

TEST(AuthRateLimitTest, FailuresPerAddressLockThatAddressOnly) {
    AuthServer server(
        authPlugin(", credentials: { alice: password123 }, "
                   "rate_limit: { per_address: 3, per_account: 0, window: 60s }"));
    ASSERT_TRUE(server.ready);
    for (int i = 0; i < 3; ++i) {
        std::string body = "{\"username\":\"user" + std::to_string(i) + "\",\"password\":\"x\"}";
        EXPECT_EQ(httpFrom("127.0.0.2", "POST", server.pub(), "/login", body).status, 401);
    }
    HttpResult limited = httpFrom("127.0.0.2", "POST", server.pub(), "/login",
                                  R"({"username":"alice","password":"password123"})");
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, kLimited);
    EXPECT_GE(retryAfter(limited), 1);
    // Another address logs in as usual.
    EXPECT_TRUE(login(server.pub(), "username", "alice", "password123").ok());
}

TEST(AuthRateLimitTest, WrongCurrentPasswordsCountToo) {
    AuthServer server(authPlugin(", rate_limit: { per_address: 0, per_account: 2, window: 60s }"));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "una@example.com", "password123", "una");
    Login l = login(server.pub(), "username", "una", "password123");
    std::string body = R"({"current_password":"guess-guess","new_password":"n3w-password"})";
    EXPECT_EQ(post(server.pub(), "/password/change", body, {l.auth.cookie, ""}).status, 403);
    EXPECT_EQ(post(server.pub(), "/password/change", body, {l.auth.cookie, ""}).status, 403);
    HttpResult limited = post(server.pub(), "/password/change", body, {l.auth.cookie, ""});
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, errorJson("Too many failed password attempts. Try again later."));
    EXPECT_GE(retryAfter(limited), 1);
    EXPECT_EQ(login(server.pub(), "username", "una", "password123").result.status, 429);
}

// ---------------------------------------------------------------------------------------------
// Argon2id concurrency

TEST(AuthHashTest, ParallelLoginsQueueInsteadOfAllocatingEachAHash) {
    // 32 MiB per hash, 2 at a time: 64 concurrent logins need about 64 MiB of hash memory, not
    // the 2 GiB an unbounded server would touch.
    // Not run under AddressSanitizer (the asan test preset excludes it): its shadow memory and
    // quarantine make RSS meaningless.
    AuthServer server("  auth: { listener: public, jwt: { secret: \"" + kSecret +
                      "\" }, password_hash: { memory: 32MiB, passes: 1, parallel: 2 }, "
                      "credentials: { alice: password123 }, "
                      "rate_limit: { per_address: 0, per_account: 0 } }\n");
    ASSERT_TRUE(server.ready);
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 64; ++i) {
        clients.emplace_back([&, i] {
            if (login(server.pub(), "username", "alice", i % 2 ? "password123" : "wrong-pass")
                    .result.status == (i % 2 ? 200 : 401)) {
                ++ok;
            }
        });
    }
    for (auto& t : clients) {
        t.join();
    }
    EXPECT_EQ(ok.load(), 64);
    long peakKb = procStatus(server.process->pid(), "VmHWM");
    ASSERT_GT(peakKb, 0);
    // Start-up hashes once (the dummy hash); two slots add 2 x 32 MiB at most.
    EXPECT_LT(peakKb, 200 * 1024) << "peak RSS " << peakKb << " kB";
    std::cout << "peak RSS after 64 parallel logins: " << peakKb << " kB\n";
    HttpResult metrics = http("GET", server.admin(), "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(metrics.body.find("switchboard_auth_password_checks_total{result=\"ok\"} 32"),
              std::string::npos);
}

TEST(AuthHashTest, HashedCredentialsAreUsedAsGiven) {
    // A hash made elsewhere (libsodium, 8 MiB, 1 pass) for "password123".
    AuthServer server(
        authPlugin(", credentials: { carol: "
                   "\"$argon2id$v=19$m=8192,t=1,p=1$ceu3ByR7s4abyTcxn2Jhdg$"
                   "eVccpBwKTIF556tAGMv1FPN2v0cBuWD2eL+IFkj4yIY\" }"));
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(server.log().find("plain-text password"), std::string::npos);
    EXPECT_TRUE(login(server.pub(), "username", "carol", "password123").ok()) << server.log();
    EXPECT_EQ(login(server.pub(), "username", "carol", "password124").result.status, 401);
}

// ---------------------------------------------------------------------------------------------
// Configuration

TEST(AuthConfigTest, BadValuesAreReportedWithTheirPath) {
    TempDir dir;
    Ports ports;
    struct Case {
        std::string plugins;
        std::string message;
    } cases[] = {
        {"  auth: { password_hash: { memory: 1KiB } }\n",
         "plugins.auth.password_hash.memory: must be between 8KiB and 4GiB"},
        {"  auth: { password_hash: { passes: 0 } }\n", "plugins.auth.password_hash.passes"},
        {"  auth: { jwt: { algorithm: RS256 } }\n", "plugins.auth.jwt.algorithm"},
        {"  auth: { jwt: { ttl: 0s } }\n", "plugins.auth.jwt.ttl: must be at least 1ms"},
        {"  auth: { sessions: { check_interval: 0s } }\n",
         "plugins.auth.sessions.check_interval: must be at least 1ms"},
        {"  auth: { sessions: { cookie_samesite: Loose } }\n",
         "plugins.auth.sessions.cookie_samesite"},
        {"  auth: { rate_limit: { window: 0s } }\n",
         "plugins.auth.rate_limit.window: must be at least 1ms"},
        {"  auth: { smtp: { from: nobody } }\n",
         "plugins.auth.smtp.from: expected an email address"},
        {"  auth: { smtp: { tls: ssl } }\n", "plugins.auth.smtp.tls"},
        {"  auth: { credentials: { \"a@b\": password123 } }\n",
         "plugins.auth.credentials: 'a@b': username must not contain '@'"},
        {"  auth: { credentials: { alice: \"\" } }\n",
         "plugins.auth.credentials: 'alice': empty password"},
        {"  auth: { credentials: [alice] }\n", "plugins.auth.credentials"},
        {"  auth: { sessions: { idle: 5m } }\n", "plugins.auth.sessions.idle"},
    };
    for (const auto& c : cases) {
        dir.write("switchboard.yaml", configYaml(dir, ports, c.plugins));
        RunResult r = runSwitchboard({"--config=" + dir.file("switchboard.yaml"), "--check-config"},
                                     dir.path());
        EXPECT_NE(r.exitCode, 0) << c.plugins;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.plugins << r.output;
    }
}

TEST(AuthConfigTest, AStaticNameThatARegisteredAccountHoldsStopsTheStart) {
    AuthServer server(authPlugin());
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "vic@example.com", "password123", "vic");
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    std::string marker = "password_hash: { memory: 8MiB, passes: 1 }";
    server.yaml.insert(server.yaml.find(marker) + marker.size(),
                       ", credentials: { vic: password123 }");
    server.start(false);
    EXPECT_FALSE(server.ready);
    EXPECT_NE(server.process->wait(), 0);
    EXPECT_NE(server.log().find(
                  "plugins.auth.credentials.vic: the username belongs to a registered account"),
              std::string::npos)
        << server.log();
}

TEST(AuthConfigTest, StaticAccountsFollowTheConfigAcrossRestarts) {
    AuthServer server(authPlugin(", credentials: { alice: password123, bob: password123 }"));
    ASSERT_TRUE(server.ready);
    Login bob = login(server.pub(), "username", "bob", "password123");
    Login alice = login(server.pub(), "username", "alice", "password123");
    std::int64_t aliceId = jsonInt(call("GET", server.pub(), "/me", "", alice.auth).body, "id");
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    // bob leaves the config, alice gets a new password.
    std::string old = ", credentials: { alice: password123, bob: password123 }";
    server.yaml.replace(server.yaml.find(old), old.size(), ", credentials: { alice: changed-pw }");
    server.start();
    ASSERT_TRUE(server.ready);
    EXPECT_TRUE(server.process->waitForLog("static account bob removed from the config: deleted"));
    EXPECT_EQ(login(server.pub(), "username", "bob", "password123").result.status, 401);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", bob.auth).status, 401);
    EXPECT_EQ(login(server.pub(), "username", "alice", "password123").result.status, 401);
    Login again = login(server.pub(), "username", "alice", "changed-pw");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(jsonInt(call("GET", server.pub(), "/me", "", again.auth).body, "id"), aliceId);
    // Her sessions from before the change ended with it.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {alice.auth.cookie, ""}).status, 401);
}

}  // namespace
}  // namespace switchboard::test::auth
