// Forgot password end to end: POST /password/forgot sends a one-time token through a real SMTP
// listener on loopback (MiniSmtp), POST /password/reset consumes it.
#include <Poco/Net/SSLManager.h>

#include "AuthTestSupport.h"

namespace switchboard::test::auth {
namespace {

struct SslInit {
    SslInit() { Poco::Net::initializeSSL(); }
    ~SslInit() { Poco::Net::uninitializeSSL(); }
};
SslInit sslInit;

std::string smtpFor(const MiniSmtp& smtp, const std::string& more = "") {
    return ", smtp: { host: 127.0.0.1, port: " + std::to_string(smtp.port()) +
           ", from: \"noreply@switchboard.test\", timeout: 5s }" + more;
}

const std::string kForgotOk =
    "{\"message\":\"If the account exists, a password reset mail has been sent.\"}";

TEST(AuthResetTest, ForgotMailsATokenThatResetsThePasswordOnce) {
    MiniSmtp smtp;
    AuthServer server(authPlugin(smtpFor(
        smtp, ", password_reset: { url: \"https://app.example.com/reset?token={token}\" }")));
    ASSERT_TRUE(server.ready);
    std::int64_t id = registerUser(server.pub(), "olga@example.com", "password123", "olga");
    Login before = login(server.pub(), "username", "olga", "password123");
    ASSERT_TRUE(before.ok());

    HttpResult forgot = post(server.pub(), "/password/forgot", R"({"login":"olga"})");
    EXPECT_EQ(forgot.status, 200);
    EXPECT_EQ(forgot.body, kForgotOk);
    auto mails = smtp.waitFor(1);
    ASSERT_EQ(mails.size(), 1u) << server.log();
    const auto& mail = mails[0];
    EXPECT_EQ(mail.from, "<noreply@switchboard.test>");
    ASSERT_EQ(mail.to.size(), 1u);
    EXPECT_EQ(mail.to[0], "<olga@example.com>");
    EXPECT_NE(mail.data.find("Subject: Password reset"), std::string::npos) << mail.data;
    EXPECT_NE(mail.data.find("To: <olga@example.com>"), std::string::npos) << mail.data;
    EXPECT_NE(mail.data.find("From: noreply@switchboard.test"), std::string::npos) << mail.data;
    std::string token = resetToken(mail.data);
    ASSERT_EQ(token.size(), 64u) << mail.data;
    EXPECT_NE(mail.data.find("https://app.example.com/reset?token=" + token), std::string::npos)
        << mail.data;
    EXPECT_TRUE(server.process->waitForLog("mail \"Password reset\" sent to olga@example.com"));

    // A weak password is refused without using up the token.
    HttpResult weak =
        post(server.pub(), "/password/reset", R"({"token":")" + token + R"(","password":"x"})");
    EXPECT_EQ(weak.status, 400);
    EXPECT_EQ(weak.body, errorJson("password must be at least 8 characters"));

    EventStream events(server.admin(), "session.revoked");
    HttpResult reset = post(server.pub(), "/password/reset",
                            R"({"token":")" + token + R"(","password":"brand-new-pass"})");
    EXPECT_EQ(reset.status, 200);
    EXPECT_EQ(reset.body, "{\"message\":\"Password has been reset.\"}");
    EXPECT_TRUE(events.next("session.revoked", "password_reset"));
    EXPECT_EQ(login(server.pub(), "username", "olga", "password123").result.status, 401);
    Login after = login(server.pub(), "email", "olga@example.com", "brand-new-pass");
    EXPECT_TRUE(after.ok());
    EXPECT_EQ(jsonInt(call("GET", server.pub(), "/me", "", after.auth).body, "id"), id);
    // Everything from before the reset is gone.
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {before.auth.cookie, ""}).status, 401);
    EXPECT_EQ(call("GET", server.pub(), "/me", "", {"", before.auth.bearer}).status, 401);

    // One time only.
    HttpResult again = post(server.pub(), "/password/reset",
                            R"({"token":")" + token + R"(","password":"another-pass"})");
    EXPECT_EQ(again.status, 400);
    EXPECT_EQ(again.body, errorJson("Invalid or expired reset token."));
}

TEST(AuthResetTest, ForgotIsAlways200AndMailsOnlyExistingAccountsWithEmail) {
    MiniSmtp smtp;
    AuthServer server(authPlugin(smtpFor(smtp, ", credentials: { alice: password123 }")));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "pat@example.com", "password123");
    for (const char* login : {"nobody", "nobody@example.com", "alice"}) {
        HttpResult r =
            post(server.pub(), "/password/forgot", std::string("{\"login\":\"") + login + "\"}");
        EXPECT_EQ(r.status, 200) << login;
        EXPECT_EQ(r.body, kForgotOk) << login;
    }
    // By email, case-insensitively. Only this one produces a mail.
    EXPECT_EQ(post(server.pub(), "/password/forgot", R"({"login":"PAT@example.com"})").body,
              kForgotOk);
    auto mails = smtp.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(mails[0].to[0], "<pat@example.com>");
    // A second request replaces the first token.
    post(server.pub(), "/password/forgot", R"({"login":"pat@example.com"})");
    mails = smtp.waitFor(2);
    ASSERT_EQ(mails.size(), 2u);
    std::string first = resetToken(mails[0].data);
    std::string second = resetToken(mails[1].data);
    EXPECT_NE(first, second);
    EXPECT_EQ(post(server.pub(), "/password/reset",
                   R"({"token":")" + first + R"(","password":"brand-new-pass"})")
                  .status,
              400);
    EXPECT_EQ(post(server.pub(), "/password/reset",
                   R"({"token":")" + second + R"(","password":"brand-new-pass"})")
                  .status,
              200);
    EXPECT_EQ(smtp.count(), 2u);
}

TEST(AuthResetTest, BadRequestsAndBadTokens) {
    MiniSmtp smtp;
    AuthServer server(authPlugin(smtpFor(smtp)));
    ASSERT_TRUE(server.ready);
    struct Case {
        std::string path;
        std::string body;
        std::string error;
    } cases[] = {
        {"/password/forgot", "{}", "missing key: login"},
        {"/password/forgot", R"({"login":3})", "login must be a string"},
        {"/password/forgot", "nope", "body is not valid JSON"},
        {"/password/reset", R"({"password":"brand-new-pass"})", "missing key: token"},
        {"/password/reset", R"({"token":"abc"})", "missing key: password"},
        {"/password/reset", R"({"token":"abc","password":"brand-new-pass"})",
         "Invalid or expired reset token."},
        {"/password/reset", R"({"token":")" + std::string(64, 'a') + R"(","password":"p4ssw0rd!"})",
         "Invalid or expired reset token."},
        {"/password/reset", R"({"token":"","password":"brand-new-pass"})",
         "Invalid or expired reset token."},
        {"/password/reset", "[]", "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(server.pub(), c.path, c.body);
        EXPECT_EQ(r.status, 400) << c.path << " " << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.path << " " << c.body;
    }
}

TEST(AuthResetTest, TokensExpire) {
    MiniSmtp smtp;
    AuthServer server(authPlugin(smtpFor(smtp, ", password_reset: { ttl: 1s }")));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "quinn@example.com", "password123");
    post(server.pub(), "/password/forgot", R"({"login":"quinn@example.com"})");
    auto mails = smtp.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    auto sent = std::chrono::steady_clock::now();
    std::string token = resetToken(mails[0].data);
    EXPECT_NE(mails[0].data.find("expires in 1 minute(s)"), std::string::npos) << mails[0].data;
    eventually([&] { return std::chrono::steady_clock::now() - sent > 2500ms; }, 5s);
    HttpResult r = post(server.pub(), "/password/reset",
                        R"({"token":")" + token + R"(","password":"brand-new-pass"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, errorJson("Invalid or expired reset token."));
    EXPECT_TRUE(login(server.pub(), "email", "quinn@example.com", "password123").ok());
}

TEST(AuthResetTest, MailsPerAccountAreCapped) {
    MiniSmtp smtp;
    AuthServer server(authPlugin(smtpFor(smtp, ", password_reset: { per_account: 2 }")));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "rita@example.com", "password123");
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(post(server.pub(), "/password/forgot", R"({"login":"rita@example.com"})").body,
                  kForgotOk);
    }
    EXPECT_TRUE(server.process->waitForLog("mail limit reached"));
    EXPECT_EQ(smtp.waitFor(2).size(), 2u);
    EXPECT_EQ(smtp.count(), 2u);
}

TEST(AuthResetTest, AnUnreachableMailServerIsLoggedNotFelt) {
    int closedPort = freePort();
    AuthServer server(authPlugin(", smtp: { host: 127.0.0.1, port: " + std::to_string(closedPort) +
                                 ", timeout: 2s }"));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "sam@example.com", "password123");
    HttpResult r = post(server.pub(), "/password/forgot", R"({"login":"sam@example.com"})");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, kForgotOk);
    EXPECT_TRUE(server.process->waitForLog("cannot send mail to sam@example.com via 127.0.0.1:" +
                                           std::to_string(closedPort)));
    EXPECT_TRUE(login(server.pub(), "email", "sam@example.com", "password123").ok());
}

TEST(AuthResetTest, WithoutSmtpTheRequestIsStill200AndLogged) {
    AuthServer server(authPlugin());
    ASSERT_TRUE(server.ready);
    EXPECT_TRUE(server.process->waitForLog("no SMTP server configured"));
    registerUser(server.pub(), "tom@example.com", "password123");
    EXPECT_EQ(post(server.pub(), "/password/forgot", R"({"login":"tom@example.com"})").body,
              kForgotOk);
    EXPECT_TRUE(server.process->waitForLog("mail to tom@example.com not sent"));
}

// ---------------------------------------------------------------------------------------------
// SMTP over TLS

/// A self-signed certificate for 127.0.0.1 (cert.pem, key.pem) and an unrelated one
/// (other.pem) in `dir`.
void makeCertificates(const TempDir& dir) {
    std::string script =
        "set -e\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem "
        "2>/dev/null\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout other.key "
        "-out other.pem 2>/dev/null\n";
    RunResult r = runCommand({"/bin/sh", "-c", script}, dir.path());
    ASSERT_EQ(r.exitCode, 0) << r.output;
}

Poco::Net::Context::Ptr serverContext(const TempDir& dir) {
    return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, dir.file("key.pem"),
                                  dir.file("cert.pem"), "", Poco::Net::Context::VERIFY_NONE);
}

TEST(AuthSmtpTlsTest, StartTlsAndImplicitTlsDeliverEncrypted) {
    TempDir certs;
    makeCertificates(certs);
    for (auto [mode, name] : {std::pair{MiniSmtp::Tls::StartTls, "starttls"},
                              std::pair{MiniSmtp::Tls::Implicit, "implicit"}}) {
        MiniSmtp smtp(mode, serverContext(certs));
        AuthServer server(authPlugin(
            ", smtp: { host: 127.0.0.1, port: " + std::to_string(smtp.port()) + ", tls: " + name +
            ", ca_file: " + certs.file("cert.pem") + ", timeout: 5s }"));
        ASSERT_TRUE(server.ready);
        registerUser(server.pub(), "tls@example.com", "password123");
        EXPECT_EQ(post(server.pub(), "/password/forgot", R"({"login":"tls@example.com"})").body,
                  kForgotOk);
        auto mails = smtp.waitFor(1);
        ASSERT_EQ(mails.size(), 1u) << name << "\n" << server.log();
        EXPECT_TRUE(mails[0].encrypted) << name;
        EXPECT_EQ(resetToken(mails[0].data).size(), 64u) << name;
    }
}

TEST(AuthSmtpTlsTest, AnUntrustedServerCertificateIsRefused) {
    TempDir certs;
    makeCertificates(certs);
    MiniSmtp smtp(MiniSmtp::Tls::StartTls, serverContext(certs));
    AuthServer server(authPlugin(", smtp: { host: 127.0.0.1, port: " + std::to_string(smtp.port()) +
                                 ", tls: starttls, ca_file: " + certs.file("other.pem") +
                                 ", timeout: 5s }"));
    ASSERT_TRUE(server.ready);
    registerUser(server.pub(), "tls@example.com", "password123");
    EXPECT_EQ(post(server.pub(), "/password/forgot", R"({"login":"tls@example.com"})").status, 200);
    EXPECT_TRUE(server.process->waitForLog("cannot send mail to tls@example.com"));
    EXPECT_TRUE(server.process->waitForLog("certificate verify failed"));
    EXPECT_EQ(smtp.count(), 0u);
}

}  // namespace
}  // namespace switchboard::test::auth
