// Integration tests of the pairing plugin (seed 000, DESIGN.md §5): the real switchboard binary on
// loopback ports, driven over HTTP the way TunneLink servers and clients drive it.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "TestSupport.h"

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Helpers

std::string errorJson(const std::string& message) {
    return "{\"error\":\"" + message + "\"}";
}

/// The registration body; /get_server_details answers with exactly this text (same keys, order).
std::string serverJson(const std::string& key, const std::string& user = "tunnel",
                       long tunnel = 3522, long listen = 3533) {
    return "{\"ssh_pubkey\":\"" + key + "\",\"ssh_user\":\"" + user +
           "\",\"ssh_tunnel\":" + std::to_string(tunnel) +
           ",\"listen_pubkey_tunnel\":" + std::to_string(listen) + "}";
}

HttpResult post(int port, const std::string& path, const std::string& body) {
    return http("POST", port, path, body);
}

HttpResult registerRaw(int port, const std::string& body) {
    return post(port, "/register_server", body);
}

/// The server_secret of a registration reply {"pairing_code":N,"server_secret":"<32 hex>"}, or
/// "" when the reply does not have exactly that shape.
std::string secretOf(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (d.HasParseError() || !d.IsObject() || d.MemberCount() != 2 ||
        !d.HasMember("pairing_code") || !d["pairing_code"].IsInt() ||
        !d.HasMember("server_secret") || !d["server_secret"].IsString()) {
        return "";
    }
    std::string secret = d["server_secret"].GetString();
    if (secret.size() != 32 || secret.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return "";
    }
    if (body != "{\"pairing_code\":" + std::to_string(d["pairing_code"].GetInt()) +
                    ",\"server_secret\":\"" + secret + "\"}") {
        return "";
    }
    return secret;
}

/// Registers and returns the pairing code, checking the exact reply shape.
int registerServer(int port, const std::string& key, const std::string& user = "tunnel",
                   long tunnel = 3522, long listen = 3533) {
    HttpResult r = registerRaw(port, serverJson(key, user, tunnel, listen));
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (r.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("pairing_code") ||
        !d["pairing_code"].IsInt()) {
        ADD_FAILURE() << "register " << key << ": " << r.status << " " << r.body;
        return 0;
    }
    int code = d["pairing_code"].GetInt();
    EXPECT_EQ(r.body, "{\"pairing_code\":" + std::to_string(code) + "}");
    EXPECT_GE(code, 1000);
    EXPECT_LE(code, 9999);
    return code;
}

HttpResult serverStatus(int port, const std::string& key,
                        const std::string& action = "get_server_status") {
    return post(port, "/server_status",
                "{\"ssh_pubkey\":\"" + key + "\",\"action\":\"" + action + "\"}");
}

HttpResult heartbeat(int port, const std::string& key) {
    return serverStatus(port, key, "heartbeat");
}

HttpResult lookup(int port, int code) {
    return post(port, "/get_server_details", "{\"pairing_code\":" + std::to_string(code) + "}");
}

double epochNow() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return static_cast<double>(us) / 1e6;
}

/// A /server_status reply: exactly {"online": bool, "last_heartbeat": number}.
struct Status {
    bool online = false;
    double lastHeartbeat = 0;
    std::string lastHeartbeatText;  ///< the number as the server wrote it
};

std::optional<Status> parseStatus(const HttpResult& r) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseFullPrecisionFlag>(r.body.c_str());
    if (r.status != 200 || d.HasParseError() || !d.IsObject() || d.MemberCount() != 2 ||
        !d.HasMember("online") || !d["online"].IsBool() || !d.HasMember("last_heartbeat") ||
        !d["last_heartbeat"].IsNumber()) {
        ADD_FAILURE() << "not a status reply: " << r.status << " " << r.body;
        return std::nullopt;
    }
    Status s;
    s.online = d["online"].GetBool();
    s.lastHeartbeat = d["last_heartbeat"].GetDouble();
    std::string prefix =
        std::string("{\"online\":") + (s.online ? "true" : "false") + ",\"last_heartbeat\":";
    EXPECT_EQ(r.body.compare(0, prefix.size(), prefix), 0) << r.body;
    s.lastHeartbeatText = r.body.substr(prefix.size(), r.body.size() - prefix.size() - 1);
    return s;
}

std::string statusJson(bool online, const std::string& lastHeartbeatText) {
    return std::string("{\"online\":") + (online ? "true" : "false") +
           ",\"last_heartbeat\":" + lastHeartbeatText + "}";
}

HttpResult adminServers(int adminPort) {
    return http("GET", adminPort, "/admin/api/pairing/servers", "",
                {{"Authorization", std::string("Bearer ") + kAdminToken}});
}

/// The listing entry of `key` in a GET /admin/api/pairing/servers body ("" if absent). Entries
/// are flat objects, so the entry ends at the first '}'.
std::string adminEntry(const std::string& body, const std::string& key) {
    std::size_t start = body.find("{\"ssh_pubkey\":\"" + key + "\"");
    if (start == std::string::npos) {
        return "";
    }
    return body.substr(start, body.find('}', start) - start + 1);
}

/// The listener line configYaml writes for `pairing`, with extra options appended.
std::string withPairingListenerOptions(std::string yaml, const Ports& ports,
                                       const std::string& options) {
    std::string line = "pairing: { bind: 127.0.0.1, port: " + std::to_string(ports.pairing);
    std::size_t at = yaml.find(line);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) {
        yaml.insert(at + line.size(), ", " + options);
    }
    return yaml;
}

/// A POST with a chunked body (no Content-Length).
HttpResult postChunked(int port, const std::string& path, const std::string& body) {
    HttpResult result;
    try {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
        session.setTimeout(Poco::Timespan(15, 0));
        Poco::Net::HTTPRequest request("POST", path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setChunkedTransferEncoding(true);
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), result.body);
        result.status = response.getStatus();
    } catch (const Poco::Exception& e) {
        ADD_FAILURE() << "chunked request failed: " << e.displayText();
    }
    return result;
}

/// A running server with its own directory and ports.
struct Server {
    explicit Server(const std::string& plugins, const std::string& extra = "",
                    const std::string& pairingListenerOptions = "") {
        yaml = configYaml(dir, ports, plugins, extra);
        if (!pairingListenerOptions.empty()) {
            yaml = withPairingListenerOptions(yaml, ports, pairingListenerOptions);
        }
        start();
    }
    void start() {
        process = std::make_unique<ServerProcess>(dir, yaml);
        ready = process->waitReady(ports.pub);
        EXPECT_TRUE(ready) << process->log();
    }
    /// Stops with `sig` and starts again on the same directory, config and ports.
    void restart(int sig) {
        process->signal(sig);
        int code = process->wait();
        EXPECT_EQ(code, sig == SIGKILL ? 128 + SIGKILL : 0) << process->log();
        start();
    }
    int pairing() const { return ports.pairing; }
    int admin() const { return ports.admin; }

    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> process;
    bool ready = false;
};

std::string pairingConfig(const std::string& offlineAfter, const std::string& more = "") {
    return "  pairing: { listener: pairing, offline_after: " + offlineAfter +
           ", check_interval: 100ms" + more + " }\n";
}

// ---------------------------------------------------------------------------------------------
// One server shared by the tests whose state does not interfere: servers stay online for 60s,
// fields are capped at 256 bytes, bodies at 1 KiB, look-ups and registrations are not
// rate-limited.

class PairingApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new Server(pairingConfig("60s",
                                          ", max_field_length: 256, "
                                          "rate_limit: { per_address: 0, per_network: 0, "
                                          "total: 0 }, registration_limit: { per_address: 0, "
                                          "per_network: 0 }"),
                            "", "max_body: 1KiB");
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }

    static int port() { return server->pairing(); }
    static Server* server;
};

Server* PairingApiTest::server = nullptr;

TEST_F(PairingApiTest, RegisterReturnsCodeThatResolvesToTheDetails) {
    int code = registerServer(port(), "ssh-ed25519 AAAAreg", "alice", 3522, 3533);
    HttpResult r = lookup(port(), code);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, serverJson("ssh-ed25519 AAAAreg", "alice", 3522, 3533));
}

TEST_F(PairingApiTest, RegisterRejectsMissingKeys) {
    struct Case {
        std::string body;
        std::string error;
    } cases[] = {
        {R"({"ssh_user":"u","ssh_tunnel":1,"listen_pubkey_tunnel":2})", "missing key: ssh_pubkey"},
        {R"({"ssh_pubkey":"k","ssh_tunnel":1,"listen_pubkey_tunnel":2})", "missing key: ssh_user"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","listen_pubkey_tunnel":2})",
         "missing key: ssh_tunnel"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","ssh_tunnel":1})",
         "missing key: listen_pubkey_tunnel"},
        {R"({"ssh_pubkey":null,"ssh_user":"u","ssh_tunnel":1,"listen_pubkey_tunnel":2})",
         "missing key: ssh_pubkey"},
        {"{}", "missing key: ssh_pubkey"},
    };
    for (const auto& c : cases) {
        HttpResult r = registerRaw(port(), c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    EXPECT_EQ(serverStatus(port(), "k").status, 404);  // nothing was registered
}

TEST_F(PairingApiTest, InvalidUtf8IsRefusedNamingTheField) {
    HttpResult r = registerRaw(port(),
                               "{\"ssh_pubkey\":\"ssh-ed25519 AAAAutf8\",\"ssh_user\":\"caf\xc3\","
                               "\"ssh_tunnel\":1,\"listen_pubkey_tunnel\":2}");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, errorJson("ssh_user is not valid UTF-8"));
    EXPECT_EQ(serverStatus(port(), "ssh-ed25519 AAAAutf8").status, 404);  // nothing stored
    HttpResult details = http("POST", port(), "/get_server_details", "{\"pairing_code\":\"\xff\"}");
    EXPECT_EQ(details.status, 400);
    EXPECT_EQ(details.body, errorJson("pairing_code is not valid UTF-8"));
}

TEST_F(PairingApiTest, RegisterRejectsWrongTypes) {
    struct Case {
        std::string body;
        std::string error;
    } cases[] = {
        {R"({"ssh_pubkey":5,"ssh_user":"u","ssh_tunnel":1,"listen_pubkey_tunnel":2})",
         "ssh_pubkey must be a string"},
        {R"({"ssh_pubkey":"k","ssh_user":["u"],"ssh_tunnel":1,"listen_pubkey_tunnel":2})",
         "ssh_user must be a string"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","ssh_tunnel":"3522","listen_pubkey_tunnel":2})",
         "ssh_tunnel must be an integer"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","ssh_tunnel":3522.5,"listen_pubkey_tunnel":2})",
         "ssh_tunnel must be an integer"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","ssh_tunnel":1,"listen_pubkey_tunnel":true})",
         "listen_pubkey_tunnel must be an integer"},
        {R"({"ssh_pubkey":"k","ssh_user":"u","ssh_tunnel":1,"listen_pubkey_tunnel":{}})",
         "listen_pubkey_tunnel must be an integer"},
    };
    for (const auto& c : cases) {
        HttpResult r = registerRaw(port(), c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
}

TEST_F(PairingApiTest, RegisterRejectsEmptyAndTooLongFields) {
    struct Case {
        std::string body;
        std::string error;
    } cases[] = {
        {serverJson("", "u"), "ssh_pubkey must not be empty"},
        {serverJson("k-empty", ""), "ssh_user must not be empty"},
        {serverJson(std::string(257, 'k'), "u"), "ssh_pubkey is too long (limit 256 bytes)"},
        {serverJson("k-long-user", std::string(257, 'u')),
         "ssh_user is too long (limit 256 bytes)"},
    };
    for (const auto& c : cases) {
        HttpResult r = registerRaw(port(), c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    // Exactly max_field_length is accepted.
    std::string key(256, 'k');
    int code = registerServer(port(), key, std::string(256, 'u'));
    EXPECT_EQ(lookup(port(), code).body, serverJson(key, std::string(256, 'u')));
}

TEST_F(PairingApiTest, RegisterRejectsPortsOutOfRange) {
    struct Case {
        long tunnel;
        long listen;
        std::string error;
    } cases[] = {
        {0, 3533, "ssh_tunnel must be a port number (1-65535)"},
        {65536, 3533, "ssh_tunnel must be a port number (1-65535)"},
        {-1, 3533, "ssh_tunnel must be a port number (1-65535)"},
        {3522, 0, "listen_pubkey_tunnel must be a port number (1-65535)"},
        {3522, 70000, "listen_pubkey_tunnel must be a port number (1-65535)"},
    };
    for (const auto& c : cases) {
        std::string body = serverJson("k-ports", "u", c.tunnel, c.listen);
        HttpResult r = registerRaw(port(), body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.body, errorJson(c.error)) << body;
    }
    int code = registerServer(port(), "k-ports", "u", 1, 65535);  // the bounds themselves
    EXPECT_EQ(lookup(port(), code).body, serverJson("k-ports", "u", 1, 65535));
}

TEST_F(PairingApiTest, RegisterRejectsBodiesThatAreNotJsonObjects) {
    for (const std::string body : {"not json", "{\"ssh_pubkey\":", ""}) {
        HttpResult r = registerRaw(port(), body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.body, errorJson("body is not valid JSON")) << body;
    }
    for (const std::string& body :
         std::vector<std::string>{"[]", "[" + serverJson("k-array") + "]", "42", "\"text\""}) {
        HttpResult r = registerRaw(port(), body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.body, errorJson("body must be a JSON object")) << body;
    }
}

TEST_F(PairingApiTest, ReRegisteringIssuesFreshCodeAndReleasesTheOldOne) {
    const std::string key = "ssh-ed25519 AAAAagain";
    int first = registerServer(port(), key, "old-user", 3522, 3533);
    ASSERT_EQ(lookup(port(), first).status, 200);
    int second = registerServer(port(), key, "new-user", 4522, 4533);
    EXPECT_NE(second, first);
    HttpResult old = lookup(port(), first);
    EXPECT_EQ(old.status, 404);
    EXPECT_EQ(old.body, errorJson("Invalid pairing code"));
    HttpResult fresh = lookup(port(), second);
    EXPECT_EQ(fresh.status, 200);
    EXPECT_EQ(fresh.body, serverJson(key, "new-user", 4522, 4533));
    auto status = parseStatus(serverStatus(port(), key));
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->online);
}

TEST_F(PairingApiTest, ThreeHundredRegistrationsGetDistinctCodes) {
    std::set<int> codes;
    for (int i = 0; i < 300; ++i) {
        codes.insert(registerServer(port(), "ssh-rsa AAAAmany" + std::to_string(i)));
    }
    EXPECT_EQ(codes.size(), 300u);
    EXPECT_EQ(codes.count(0), 0u);
    // The lowest and highest still resolve to servers of this batch.
    for (int code : {*codes.begin(), *codes.rbegin()}) {
        HttpResult r = lookup(port(), code);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body.rfind("{\"ssh_pubkey\":\"ssh-rsa AAAAmany", 0), 0u) << r.body;
    }
}

TEST_F(PairingApiTest, HeartbeatRecordsTheTimeAndStatusReportsIt) {
    const std::string key = "ssh-ed25519 AAAAbeat";
    registerServer(port(), key);
    double before = epochNow();
    HttpResult beat = heartbeat(port(), key);
    double after = epochNow();
    EXPECT_EQ(beat.status, 200);
    auto hb = parseStatus(beat);
    ASSERT_TRUE(hb);
    EXPECT_TRUE(hb->online);
    EXPECT_GE(hb->lastHeartbeat, before - 0.001);
    EXPECT_LE(hb->lastHeartbeat, after + 0.001);
    EXPECT_NE(hb->lastHeartbeatText.find('.'), std::string::npos) << "a float, like time.time()";

    HttpResult status = serverStatus(port(), key);
    EXPECT_EQ(status.status, 200);
    EXPECT_EQ(status.body, statusJson(true, hb->lastHeartbeatText));
}

TEST_F(PairingApiTest, ServerStatusOfUnknownKeyIs404) {
    for (const std::string action : {"heartbeat", "get_server_status"}) {
        HttpResult r = serverStatus(port(), "ssh-ed25519 AAAAnobody", action);
        EXPECT_EQ(r.status, 404) << action;
        EXPECT_EQ(r.body, errorJson("Server not registered")) << action;
    }
}

TEST_F(PairingApiTest, ServerStatusRejectsBadRequests) {
    registerServer(port(), "k-status-bad");
    struct Case {
        std::string body;
        std::string expected;
    } cases[] = {
        {R"({"ssh_pubkey":"k-status-bad","action":"reboot"})",
         R"({"error":"action must be \"heartbeat\" or \"get_server_status\""})"},
        {R"({"ssh_pubkey":"k-status-bad","action":""})",
         R"({"error":"action must be \"heartbeat\" or \"get_server_status\""})"},
        {R"({"ssh_pubkey":"k-status-bad"})", errorJson("missing key: action")},
        {R"({"action":"heartbeat"})", errorJson("missing key: ssh_pubkey")},
        {R"({"ssh_pubkey":7,"action":"heartbeat"})", errorJson("ssh_pubkey must be a string")},
        {R"({"ssh_pubkey":"k-status-bad","action":1})", errorJson("action must be a string")},
        {"heartbeat", errorJson("body is not valid JSON")},
        {"[\"heartbeat\"]", errorJson("body must be a JSON object")},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/server_status", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, c.expected) << c.body;
    }
}

TEST_F(PairingApiTest, DetailsAcceptDigitStringCodes) {
    int code = registerServer(port(), "k-digits", "bob", 2000, 2001);
    HttpResult r =
        post(port(), "/get_server_details", "{\"pairing_code\":\"" + std::to_string(code) + "\"}");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, serverJson("k-digits", "bob", 2000, 2001));
}

TEST_F(PairingApiTest, DetailsOfUnknownCodeIs404) {
    registerServer(port(), "k-unknown");
    // A code in range that no online server holds, from the admin listing.
    HttpResult list = adminServers(server->admin());
    ASSERT_EQ(list.status, 200);
    int unused = 1000;
    while (list.body.find("\"pairing_code\":" + std::to_string(unused) + ",") !=
           std::string::npos) {
        ++unused;
    }
    for (int code : {unused, 0, 999, 10000, -1234}) {
        HttpResult r = lookup(port(), code);
        EXPECT_EQ(r.status, 404) << code;
        EXPECT_EQ(r.body, errorJson("Invalid pairing code")) << code;
    }
    HttpResult r = post(port(), "/get_server_details", R"({"pairing_code":99999999999})");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, errorJson("Invalid pairing code"));
}

TEST_F(PairingApiTest, DetailsRejectBadRequests) {
    struct Case {
        std::string body;
        std::string error;
    } cases[] = {
        {"{}", "missing key: pairing_code"},
        {R"({"pairing_code":null})", "missing key: pairing_code"},
        {R"({"pairing_code":1234.5})", "pairing_code must be an integer"},
        {R"({"pairing_code":true})", "pairing_code must be an integer"},
        {R"({"pairing_code":[1234]})", "pairing_code must be an integer"},
        {R"({"pairing_code":"12a4"})", "pairing_code must be an integer"},
        {R"({"pairing_code":" 1234"})", "pairing_code must be an integer"},
        {R"({"pairing_code":"-1234"})", "pairing_code must be an integer"},
        {R"({"pairing_code":""})", "pairing_code must be an integer"},
        {R"({"pairing_code":"1234567890"})", "pairing_code must be an integer"},
        {"1234", "body must be a JSON object"},
        {"pairing_code=1234", "body is not valid JSON"},
    };
    for (const auto& c : cases) {
        HttpResult r = post(port(), "/get_server_details", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
}

TEST_F(PairingApiTest, StringsAreEscapedInReplies) {
    const std::string key = R"(ssh-ed25519 AAAA\"quoted\" \\ back)";  // JSON-escaped text
    int code = registerServer(port(), key, "j\\u00fcrgen");
    HttpResult r = lookup(port(), code);
    EXPECT_EQ(r.status, 200);
    // The server re-escapes quotes and backslashes and writes ü as UTF-8.
    EXPECT_EQ(r.body, serverJson(key, "j\xC3\xBCrgen"));
}

TEST_F(PairingApiTest, BodyOverMaxBodyIs413AndServerKeepsServing) {
    std::string big = serverJson("k-big" + std::string(1100, 'x'));
    HttpResult r = registerRaw(port(), big);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, errorJson("request body too large (limit 1024 bytes)"));

    HttpResult chunked = postChunked(port(), "/register_server", big);
    EXPECT_EQ(chunked.status, 413);
    EXPECT_EQ(chunked.body, errorJson("request body too large (limit 1024 bytes)"));

    // Exactly max_body bytes is accepted.
    std::string exact = serverJson("k-exact");
    exact.insert(1, std::string(1024 - exact.size(), ' '));
    ASSERT_EQ(exact.size(), 1024u);
    HttpResult ok = registerRaw(port(), exact);
    EXPECT_EQ(ok.status, 200) << ok.body;
    registerServer(port(), "k-after-413");
}

TEST_F(PairingApiTest, WrongMethodIs405AndUnknownPathIs404) {
    for (const std::string path : {"/register_server", "/server_status", "/get_server_details"}) {
        HttpResult r = http("GET", port(), path);
        EXPECT_EQ(r.status, 405) << path;
        EXPECT_EQ(r.body, errorJson("method not allowed")) << path;
    }
    HttpResult put = http("PUT", port(), "/register_server", serverJson("k-put"));
    EXPECT_EQ(put.status, 405);
    EXPECT_EQ(put.body, errorJson("method not allowed"));
    for (const std::string path : {"/register", "/register_server/extra", "/"}) {
        HttpResult r = post(port(), path, "{}");
        EXPECT_EQ(r.status, 404) << path;
        EXPECT_EQ(r.body, errorJson("not found")) << path;
    }
}

TEST_F(PairingApiTest, AdminListingRequiresTheToken) {
    HttpResult r = http("GET", server->admin(), "/admin/api/pairing/servers");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, errorJson("admin token required"));
    // The TunneLink routes live only on the pairing listener.
    EXPECT_EQ(post(server->ports.pub, "/register_server", serverJson("k-public")).status, 404);
}

TEST_F(PairingApiTest, AdminListingShowsOnlineServers) {
    const std::string key = "ssh-ed25519 AAAAlisted";
    int code = registerServer(port(), key, "carol", 5000, 5001);
    auto status = parseStatus(serverStatus(port(), key));
    ASSERT_TRUE(status);
    HttpResult r = adminServers(server->admin());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.rfind("{\"items\":[", 0), 0u);
    // Registration sets last_heartbeat and registered_at to the same instant.
    EXPECT_EQ(adminEntry(r.body, key),
              "{\"ssh_pubkey\":\"" + key +
                  "\",\"ssh_user\":\"carol\",\"ssh_tunnel\":5000,\"listen_pubkey_tunnel\":5001,"
                  "\"online\":true,\"pairing_code\":" +
                  std::to_string(code) + ",\"last_heartbeat\":" + status->lastHeartbeatText +
                  ",\"registered_at\":" + status->lastHeartbeatText + "}");
}

TEST_F(PairingApiTest, AdminListingIsPagedAndSearchable) {
    registerServer(port(), "ssh-ed25519 AAAApagedA", "paged-user", 6000, 6001);
    registerServer(port(), "ssh-ed25519 AAAApagedB", "paged-user", 6002, 6003);
    auto get = [&](const std::string& query) {
        return http("GET", server->admin(), "/admin/api/pairing/servers" + query, "",
                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    };
    HttpResult first = get("?q=PAGED-USER&limit=1");
    EXPECT_EQ(first.status, 200);
    EXPECT_NE(first.body.find("AAAApagedA"), std::string::npos) << first.body;  // oldest first
    EXPECT_EQ(first.body.find("AAAApagedB"), std::string::npos) << first.body;
    EXPECT_NE(first.body.find("],\"total\":2,\"limit\":1,\"offset\":0}"), std::string::npos)
        << first.body;
    HttpResult second = get("?q=paged-user&limit=1&offset=1");
    EXPECT_NE(second.body.find("AAAApagedB"), std::string::npos) << second.body;
    EXPECT_EQ(get("?q=nobody-registered-this").body,
              "{\"items\":[],\"total\":0,\"limit\":100,\"offset\":0}");
    EXPECT_EQ(get("?limit=1001").body, errorJson("limit must be an integer from 1 to 1000"));
    EXPECT_EQ(get("?offset=-1").body, errorJson("offset must be a non-negative integer"));
}

TEST_F(PairingApiTest, OneKeepAliveConnectionServesManyRequests) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port()));
    session.setTimeout(Poco::Timespan(15, 0));
    session.setKeepAlive(true);
    std::string local;  // the client end of the connection: the same for every request
    auto send = [&](const std::string& path, const std::string& body, int status,
                    const std::string& expected) {
        Poco::Net::HTTPRequest request("POST", path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string reply;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), reply);
        EXPECT_EQ(response.getStatus(), status) << path << " " << body;
        EXPECT_TRUE(response.getKeepAlive()) << path << " " << body;
        if (local.empty()) {
            local = session.socket().address().toString();
        }
        EXPECT_EQ(session.socket().address().toString(), local) << path << " " << body;
        if (!expected.empty()) {
            EXPECT_EQ(reply, expected) << path << " " << body;
        }
        return reply;
    };
    std::string registered = send("/register_server", serverJson("k-keepalive"), 200, "");
    std::string code = registered.substr(registered.find(':') + 1);
    code = code.substr(0, code.find_first_not_of("0123456789"));
    send("/server_status", R"({"ssh_pubkey":"k-keepalive","action":"heartbeat"})", 200, "");
    send("/get_server_details", "{\"pairing_code\":" + code + "}", 200, serverJson("k-keepalive"));
    send("/get_server_details", "{}", 400, errorJson("missing key: pairing_code"));
    send("/server_status", R"({"ssh_pubkey":"k-nope","action":"heartbeat"})", 404,
         errorJson("Server not registered"));
    send("/register_server", "[]", 400, errorJson("body must be a JSON object"));
    send("/get_server_details", "{\"pairing_code\":\"" + code + "\"}", 200,
         serverJson("k-keepalive"));
}

// Status lines carry the reason phrase that matches the code (not "OK" for everything).
TEST_F(PairingApiTest, StatusLinesCarryTheMatchingReasonPhrase) {
    auto reason = [&](const std::string& method, const std::string& path, const std::string& body) {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port()));
        session.setTimeout(Poco::Timespan(15, 0));
        Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string reply;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), reply);
        return std::to_string(response.getStatus()) + " " + response.getReason();
    };
    EXPECT_EQ(reason("POST", "/register_server", serverJson("k-reason")), "200 OK");
    EXPECT_EQ(reason("POST", "/register_server", "[]"), "400 Bad Request");
    EXPECT_EQ(reason("POST", "/server_status", R"({"ssh_pubkey":"k-none","action":"heartbeat"})"),
              "404 Not Found");
    EXPECT_EQ(reason("GET", "/register_server", ""), "405 Method Not Allowed");
    EXPECT_EQ(reason("POST", "/register_server", std::string(2000, ' ')),
              "413 Request Entity Too Large");
}

TEST_F(PairingApiTest, ConcurrentReRegistrationsLeaveExactlyOneLiveCode) {
    const std::string key = "ssh-ed25519 AAAAracing";
    std::vector<int> codes[4];
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 15; ++i) {
                HttpResult r = registerRaw(port(), serverJson(key, "racer" + std::to_string(t)));
                rapidjson::Document d;
                d.Parse(r.body.c_str());
                if (r.status == 200 && d.IsObject() && d.HasMember("pairing_code")) {
                    codes[t].push_back(d["pairing_code"].GetInt());
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    int live = 0;
    std::set<int> all;
    for (const auto& list : codes) {
        EXPECT_EQ(list.size(), 15u);
        all.insert(list.begin(), list.end());
    }
    // Distinct codes: a released code may be drawn again for the same key (1 in ~150 runs).
    for (int code : all) {
        HttpResult r = lookup(port(), code);
        if (r.status == 200) {
            ++live;
        } else {
            EXPECT_EQ(r.status, 404) << r.body;
        }
    }
    EXPECT_EQ(live, 1);
    // The live code is the one the listing shows for the key.
    HttpResult list = adminServers(server->admin());
    std::string entry = adminEntry(list.body, key);
    EXPECT_NE(entry.find("\"online\":true"), std::string::npos) << entry;
}

// ---------------------------------------------------------------------------------------------
// Going offline: a second shared server with offline_after 1s, checked every 100ms.

class PairingExpiryTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new Server(pairingConfig("1s", ", rate_limit: { per_address: 0, total: 0 }"));
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }

    static int port() { return server->pairing(); }
    static Server* server;
};

Server* PairingExpiryTest::server = nullptr;

bool isOffline(int port, const std::string& key) {
    auto status = parseStatus(serverStatus(port, key));
    return status && !status->online;
}

TEST_F(PairingExpiryTest, HeartbeatsKeepServerOnlineAndSilenceTakesItOffline) {
    const std::string alive = "ssh-ed25519 AAAAalive";
    const std::string silent = "ssh-ed25519 AAAAsilent";
    int aliveCode = registerServer(port(), alive, "alive");
    int silentCode = registerServer(port(), silent, "silent");
    auto registered = parseStatus(serverStatus(port(), silent));
    ASSERT_TRUE(registered);
    ASSERT_TRUE(registered->online);

    // `silent` registered after `alive`: once it is offline, more than offline_after has passed
    // since `alive` registered, and only its heartbeats kept it online.
    int beats = 0;
    ASSERT_TRUE(eventually([&] {
        EXPECT_EQ(heartbeat(port(), alive).status, 200);
        ++beats;
        return isOffline(port(), silent);
    }));
    EXPECT_GT(beats, 1);
    auto aliveStatus = parseStatus(serverStatus(port(), alive));
    ASSERT_TRUE(aliveStatus);
    EXPECT_TRUE(aliveStatus->online);
    EXPECT_EQ(lookup(port(), aliveCode).body, serverJson(alive, "alive"));

    // The silent server: heartbeats refused, code released, last heartbeat kept.
    HttpResult beat = heartbeat(port(), silent);
    EXPECT_EQ(beat.status, 409);
    EXPECT_EQ(beat.body, errorJson("Server is offline. Heartbeat not updated."));
    HttpResult details = lookup(port(), silentCode);
    EXPECT_EQ(details.status, 404);
    EXPECT_EQ(details.body, errorJson("Invalid pairing code"));
    HttpResult status = serverStatus(port(), silent);
    EXPECT_EQ(status.status, 200);
    EXPECT_EQ(status.body, statusJson(false, registered->lastHeartbeatText));

    HttpResult list = adminServers(server->admin());
    EXPECT_EQ(list.status, 200);
    EXPECT_EQ(adminEntry(list.body, silent),
              "{\"ssh_pubkey\":\"" + silent +
                  "\",\"ssh_user\":\"silent\",\"ssh_tunnel\":3522,\"listen_pubkey_tunnel\":3533,"
                  "\"online\":false,\"pairing_code\":null,\"last_heartbeat\":" +
                  registered->lastHeartbeatText +
                  ",\"registered_at\":" + registered->lastHeartbeatText + "}");
    EXPECT_NE(adminEntry(list.body, alive)
                  .find("\"online\":true,\"pairing_code\":" + std::to_string(aliveCode) + ","),
              std::string::npos)
        << list.body;

    // Re-registering brings it back with a new code; heartbeats count again.
    int again = registerServer(port(), silent, "silent");
    EXPECT_EQ(lookup(port(), again).body, serverJson(silent, "silent"));
    EXPECT_EQ(heartbeat(port(), silent).status, 200);
}

TEST_F(PairingExpiryTest, EventsAnnounceOnlineAndOffline) {
    EventStream events(server->admin(), "server.*");
    ASSERT_EQ(events.status(), 200);
    EXPECT_EQ(events.contentType(), "text/event-stream");

    const std::string key = "ssh-ed25519 AAAAevents";
    int code = registerServer(port(), key, "dave");
    auto status = parseStatus(serverStatus(port(), key));
    ASSERT_TRUE(status);

    auto online = events.next("server.online", key);
    ASSERT_TRUE(online);
    EXPECT_EQ(online->data, "{\"ssh_pubkey\":\"" + key +
                                "\",\"ssh_user\":\"dave\","
                                "\"pairing_code\":" +
                                std::to_string(code) +
                                ",\"last_heartbeat\":" + status->lastHeartbeatText + "}");

    auto offline = events.next("server.offline", key);
    ASSERT_TRUE(offline);
    EXPECT_EQ(offline->data,
              "{\"ssh_pubkey\":\"" + key +
                  "\",\"ssh_user\":\"dave\",\"pairing_code\":" + std::to_string(code) + "}");
    EXPECT_TRUE(isOffline(port(), key));
}

TEST_F(PairingExpiryTest, EventTopicFilterExcludesOtherTopics) {
    EventStream events(server->admin(), "server.offline");
    ASSERT_EQ(events.status(), 200);
    const std::string key = "ssh-ed25519 AAAAfilter";
    int code = registerServer(port(), key, "erin");
    // Read events of every topic: the first this subscriber gets for the key must be the
    // offline one; a server.online leaking through the filter would come first.
    auto first = events.nextAnyTopic(key);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->topic, "server.offline");
    EXPECT_EQ(first->data, "{\"ssh_pubkey\":\"" + key +
                               "\",\"ssh_user\":\"erin\",\"pairing_code\":" + std::to_string(code) +
                               "}");
}

// ---------------------------------------------------------------------------------------------
// Rate limiting of failed look-ups.

TEST(PairingRateLimitTest, PerAddressLimitRefusesEvenValidCodes) {
    Server server(pairingConfig("60s", ", rate_limit: { per_address: 3, total: 0, window: 60s }"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-limited", "frank");
    // Successful and malformed look-ups do not count.
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(lookup(server.pairing(), code).status, 200);
        EXPECT_EQ(post(server.pairing(), "/get_server_details", "{}").status, 400);
    }
    int unknown = code == 9999 ? 1000 : code + 1;
    for (int i = 0; i < 3; ++i) {
        HttpResult r = lookup(server.pairing(), unknown);
        EXPECT_EQ(r.status, 404) << i;
        EXPECT_EQ(r.header("Retry-After"), "");
    }
    HttpResult limited = lookup(server.pairing(), unknown);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, errorJson("too many failed pairing-code look-ups; retry later"));
    std::string retry = limited.header("Retry-After");
    ASSERT_FALSE(retry.empty());
    ASSERT_EQ(retry.find_first_not_of("0123456789"), std::string::npos) << retry;
    EXPECT_GE(std::stoi(retry), 1);
    EXPECT_LE(std::stoi(retry), 60);

    HttpResult valid = lookup(server.pairing(), code);
    EXPECT_EQ(valid.status, 429);
    EXPECT_EQ(valid.body, errorJson("too many failed pairing-code look-ups; retry later"));
    EXPECT_FALSE(valid.header("Retry-After").empty());
    HttpResult malformed = post(server.pairing(), "/get_server_details", "{}");
    EXPECT_EQ(malformed.status, 429);
    EXPECT_EQ(malformed.body, errorJson("too many failed pairing-code look-ups; retry later"));

    // Another client address is not limited, and registration and heartbeats still work.
    HttpResult other = httpFrom("127.0.0.2", "POST", server.pairing(), "/get_server_details",
                                "{\"pairing_code\":" + std::to_string(code) + "}");
    EXPECT_EQ(other.status, 200);
    EXPECT_EQ(other.body, serverJson("k-limited", "frank"));
    EXPECT_EQ(heartbeat(server.pairing(), "k-limited").status, 200);
    registerServer(server.pairing(), "k-limited-2");

    HttpResult metrics = http("GET", server.admin(), "/metrics", "",
                              {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(metrics.body.find("switchboard_pairing_rate_limited_total 3"), std::string::npos)
        << metrics.body;
}

HttpResult lookupFrom(const std::string& source, int port, int code) {
    return httpFrom(source, "POST", port, "/get_server_details",
                    "{\"pairing_code\":" + std::to_string(code) + "}");
}

TEST(PairingRateLimitTest, AnAttackShrinksEveryAllowanceButLocksNobodyOut) {
    // 3 failures from anywhere in 2 s are an attack; per address 5, 1 during an attack (every
    // source here is in 127.0.0.0/24, whose network allowance is set out of the way).
    Server server(pairingConfig("60s",
                                ", rate_limit: { per_address: 5, per_network: 0, total: 3, "
                                "per_address_under_attack: 1, per_network_under_attack: 100, "
                                "window: 2s }"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-total");
    int unknown = code == 9999 ? 1000 : code + 1;
    EXPECT_EQ(lookupFrom("127.0.0.1", server.pairing(), unknown).status, 404);
    EXPECT_EQ(lookupFrom("127.0.0.1", server.pairing(), unknown).status, 404);  // 2 of its 5
    EXPECT_EQ(lookupFrom("127.0.0.2", server.pairing(), unknown).status, 404);  // the 3rd: attack
    // Addresses that have failed are held to one failure now, even with the valid code...
    for (const std::string source : {"127.0.0.1", "127.0.0.2"}) {
        HttpResult r = lookupFrom(source, server.pairing(), code);
        EXPECT_EQ(r.status, 429) << source;
        EXPECT_EQ(r.body, errorJson("too many failed pairing-code look-ups; retry later"));
        std::string retry = r.header("Retry-After");
        ASSERT_FALSE(retry.empty());
        ASSERT_EQ(retry.find_first_not_of("0123456789"), std::string::npos) << retry;
        EXPECT_GE(std::stoi(retry), 1);
        EXPECT_LE(std::stoi(retry), 2);
    }
    // ...while one that has not is never refused: its valid code works, and it may fail once.
    HttpResult fresh = lookupFrom("127.0.0.4", server.pairing(), code);
    EXPECT_EQ(fresh.status, 200);
    EXPECT_EQ(fresh.body, serverJson("k-total"));
    EXPECT_EQ(lookupFrom("127.0.0.5", server.pairing(), unknown).status, 404);
    EXPECT_EQ(lookupFrom("127.0.0.5", server.pairing(), unknown).status, 429);
    EXPECT_EQ(lookupFrom("127.0.0.6", server.pairing(), code).status, 200);
    // When the window ends, look-ups are answered again.
    EXPECT_TRUE(
        eventually([&] { return lookupFrom("127.0.0.1", server.pairing(), code).status == 200; }));
}

TEST(PairingRateLimitTest, OneNetworkCannotMultiplyItsAllowanceWithManyAddresses) {
    // 60 addresses of one /24 with 20 guesses each walked 959 codes; per network it is 6 here.
    Server server(pairingConfig(
        "60s", ", rate_limit: { per_address: 2, per_network: 6, total: 0, window: 60s }"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-network");
    int unknown = code == 9999 ? 1000 : code + 1;
    int notFound = 0;
    int limited = 0;
    for (int host = 1; host <= 10; ++host) {
        for (int i = 0; i < 2; ++i) {
            int status =
                lookupFrom("127.0.0." + std::to_string(host), server.pairing(), unknown).status;
            notFound += status == 404;
            limited += status == 429;
        }
    }
    EXPECT_EQ(notFound, 6) << "guesses the /24 was allowed";
    EXPECT_EQ(limited, 14);
    // Another network is not affected (127.0.1.0/24 is loopback as well).
    HttpResult other = lookupFrom("127.0.1.1", server.pairing(), code);
    EXPECT_EQ(other.status, 200);
    EXPECT_EQ(other.body, serverJson("k-network"));
}

TEST(PairingRateLimitTest, NewRegistrationsAreLimitedPerAddressButReRegistrationIsNot) {
    // ~9,000 registrations from one client used to take every code (503 for everyone).
    Server server(pairingConfig(
        "60s", ", registration_limit: { per_address: 3, per_network: 5, window: 60s }"));
    ASSERT_TRUE(server.ready);
    for (int i = 0; i < 3; ++i) {
        registerServer(server.pairing(), "k-reg-" + std::to_string(i));
    }
    HttpResult refused = registerRaw(server.pairing(), serverJson("k-reg-3"));
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.body, errorJson("too many registrations; retry later"));
    std::string retry = refused.header("Retry-After");
    ASSERT_FALSE(retry.empty());
    EXPECT_GE(std::stoi(retry), 1);
    EXPECT_LE(std::stoi(retry), 60);
    // A known key re-registers (a server restarting) whatever the count.
    for (int i = 0; i < 3; ++i) {
        registerServer(server.pairing(), "k-reg-0");
    }
    // Another address of the network has its own 3, up to the network's 5.
    auto registerFrom = [&](const std::string& source, const std::string& key) {
        return httpFrom(source, "POST", server.pairing(), "/register_server", serverJson(key));
    };
    EXPECT_EQ(registerFrom("127.0.0.2", "k-reg-a").status, 200);
    EXPECT_EQ(registerFrom("127.0.0.2", "k-reg-b").status, 200);
    HttpResult network = registerFrom("127.0.0.3", "k-reg-c");
    EXPECT_EQ(network.status, 429);
    EXPECT_EQ(network.body, errorJson("too many registrations; retry later"));
    EXPECT_EQ(registerFrom("127.0.1.1", "k-reg-d").status, 200);
    EXPECT_EQ(lookup(server.pairing(), 0).status, 404);  // look-ups are not affected
}

// ---------------------------------------------------------------------------------------------
// The server secret (require_server_secret).

HttpResult heartbeatWith(int port, const std::string& key, const std::string& secret) {
    return post(port, "/server_status",
                "{\"ssh_pubkey\":\"" + key + "\",\"action\":\"heartbeat\",\"server_secret\":\"" +
                    secret + "\"}");
}

std::string registerBody(const std::string& key, const std::string& user,
                         const std::string& secret) {
    std::string body = serverJson(key, user);
    return body.substr(0, body.size() - 1) + ",\"server_secret\":\"" + secret + "\"}";
}

TEST(PairingSecretTest, ByDefaultNoSecretIsIssuedAndThePublicKeyIsEnough) {
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    registerServer(server.pairing(), "k-sec-default");  // the reply is the seed's exactly
    EXPECT_EQ(heartbeat(server.pairing(), "k-sec-default").status, 200);
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec-default", "whatever").status, 200);
    registerServer(server.pairing(), "k-sec-default", "other");
}

TEST(PairingSecretTest, TurningTheModeOnLetsServersWithoutASecretRegisterForOne) {
    std::string secret;
    {
        Server server(pairingConfig("60s"));
        ASSERT_TRUE(server.ready);
        registerServer(server.pairing(), "k-sec-migrate");
        // Same data directory, strict mode: the entry holds no secret, so its heartbeats are
        // refused and re-registering it (online, but without a secret) is allowed once.
        server.yaml = configYaml(server.dir, server.ports,
                                 pairingConfig("60s", ", require_server_secret: true"));
        server.restart(SIGTERM);
        ASSERT_TRUE(server.ready);
        EXPECT_EQ(heartbeat(server.pairing(), "k-sec-migrate").body,
                  errorJson("server_secret required"));
        HttpResult r = registerRaw(server.pairing(), serverJson("k-sec-migrate"));
        ASSERT_EQ(r.status, 200) << r.body;
        secret = secretOf(r.body);
        ASSERT_FALSE(secret.empty()) << r.body;
        EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec-migrate", secret).status, 200);
        EXPECT_EQ(registerRaw(server.pairing(), serverJson("k-sec-migrate")).body,
                  errorJson("server_secret required"));
    }
}

TEST(PairingSecretTest, RequiredSecretGuardsHeartbeatsAndReRegistrationAcrossRestarts) {
    Server server(pairingConfig("60s", ", require_server_secret: true"));
    ASSERT_TRUE(server.ready);
    HttpResult r = registerRaw(server.pairing(), serverJson("k-sec", "alice"));
    ASSERT_EQ(r.status, 200);
    std::string secret = secretOf(r.body);
    ASSERT_FALSE(secret.empty()) << r.body;
    int code = std::stoi(r.body.substr(r.body.find(':') + 1));

    // Knowing the public key (any paired client does) is not enough any more.
    HttpResult bare = heartbeat(server.pairing(), "k-sec");
    EXPECT_EQ(bare.status, 401);
    EXPECT_EQ(bare.body, errorJson("server_secret required"));
    HttpResult wrong = heartbeatWith(server.pairing(), "k-sec", std::string(32, 'a'));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.body, errorJson("Invalid server secret"));
    EXPECT_EQ(post(server.pairing(), "/server_status",
                   "{\"ssh_pubkey\":\"k-sec\",\"action\":\"heartbeat\",\"server_secret\":7}")
                  .body,
              errorJson("server_secret must be a string"));
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec", secret).status, 200);
    HttpResult hijack = registerRaw(server.pairing(), serverJson("k-sec", "mallory"));
    EXPECT_EQ(hijack.status, 401);
    EXPECT_EQ(hijack.body, errorJson("server_secret required"));
    EXPECT_EQ(
        registerRaw(server.pairing(), registerBody("k-sec", "mallory", std::string(32, 'b'))).body,
        errorJson("Invalid server secret"));
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("k-sec", "alice"));
    // An unknown key is still 404, and the status query needs no secret.
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-nobody", secret).status, 404);
    EXPECT_EQ(serverStatus(server.pairing(), "k-sec").status, 200);

    // The secret survives a restart; re-registering with it gives a new one and ends the old.
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec", secret).status, 200);
    HttpResult again = registerRaw(server.pairing(), registerBody("k-sec", "alice", secret));
    ASSERT_EQ(again.status, 200) << again.body;
    std::string next = secretOf(again.body);
    ASSERT_FALSE(next.empty());
    EXPECT_NE(next, secret);
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec", secret).status, 401);
    EXPECT_EQ(heartbeatWith(server.pairing(), "k-sec", next).status, 200);
}

TEST(PairingSecretTest, AServerThatWentOfflineReRegistersWithoutItsSecret) {
    Server server(pairingConfig("300ms", ", require_server_secret: true"));
    ASSERT_TRUE(server.ready);
    ASSERT_FALSE(secretOf(registerRaw(server.pairing(), serverJson("k-sec-lost")).body).empty());
    ASSERT_TRUE(eventually([&] {
        return serverStatus(server.pairing(), "k-sec-lost").body.find("\"online\":false") !=
               std::string::npos;
    }));
    HttpResult r = registerRaw(server.pairing(), serverJson("k-sec-lost"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(secretOf(r.body).empty());
}

// ---------------------------------------------------------------------------------------------
// The on_server_register Lua hook.

constexpr const char* kHookScript = R"(
function on_server_register(server)
  if server.ssh_user == "root" then
    return false, "no root"
  end
  if server.ssh_user == "nobody" then
    return false
  end
  if server.ssh_user == "boom" then
    error("kaboom")
  end
  if server.ssh_user == "loop" then
    while true do end
  end
  if server.ssh_user == "inspect" then
    return false, server.ssh_pubkey .. "|" .. server.peer .. "|" .. server.ssh_tunnel .. "|" ..
                  server.listen_pubkey_tunnel
  end
  return true
end
)";

TEST(PairingHookTest, HookRejectsFailsAndLoopsWithoutStoppingTheServer) {
    TempDir scripts;
    std::string script = scripts.write("hooks.lua", kHookScript);
    Server server(pairingConfig("60s"), "lua: { scripts: [" + script + "] }\n");
    ASSERT_TRUE(server.ready);
    int port = server.pairing();

    HttpResult root = registerRaw(port, serverJson("k-root", "root"));
    EXPECT_EQ(root.status, 403);
    EXPECT_EQ(root.body, errorJson("no root"));
    EXPECT_EQ(serverStatus(port, "k-root").status, 404);  // not registered

    HttpResult nobody = registerRaw(port, serverJson("k-nobody", "nobody"));
    EXPECT_EQ(nobody.status, 403);
    EXPECT_EQ(nobody.body, errorJson("registration rejected"));

    HttpResult inspect = registerRaw(port, serverJson("k-inspect", "inspect", 3522, 3533));
    EXPECT_EQ(inspect.status, 403);
    EXPECT_EQ(inspect.body, errorJson("k-inspect|127.0.0.1|3522|3533"));

    HttpResult boom = registerRaw(port, serverJson("k-boom", "boom"));
    EXPECT_EQ(boom.status, 500);
    EXPECT_EQ(boom.body, errorJson("registration hook failed"));
    EXPECT_EQ(serverStatus(port, "k-boom").status, 404);
    EXPECT_TRUE(server.process->waitForLog("kaboom"));
    int afterBoom = registerServer(port, "k-after-boom", "grace");
    EXPECT_EQ(lookup(port, afterBoom).body, serverJson("k-after-boom", "grace"));

    HttpResult loop = registerRaw(port, serverJson("k-loop", "loop"));
    EXPECT_EQ(loop.status, 500);
    EXPECT_EQ(loop.body, errorJson("registration hook failed"));
    EXPECT_TRUE(server.process->waitForLog("instruction budget exceeded"));
    int afterLoop = registerServer(port, "k-after-loop", "heidi");
    EXPECT_EQ(lookup(port, afterLoop).body, serverJson("k-after-loop", "heidi"));
    EXPECT_TRUE(server.process->running());

    // A refused or failed re-registration leaves the earlier registration and its code alone.
    int kept = registerServer(port, "k-kept", "kept");
    EXPECT_EQ(registerRaw(port, serverJson("k-kept", "root", 1, 2)).status, 403);
    EXPECT_EQ(registerRaw(port, serverJson("k-kept", "boom", 1, 2)).status, 500);
    EXPECT_EQ(lookup(port, kept).body, serverJson("k-kept", "kept"));

    // A reloaded script takes effect for the next registration.
    scripts.write("hooks.lua", "function on_server_register(server) return true end\n");
    HttpResult reload = http("POST", server.admin(), "/admin/api/reload", "",
                             {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_EQ(reload.status, 200);
    EXPECT_EQ(reload.body, "{\"reloaded\":true}");
    int rootCode = registerServer(port, "k-root", "root");
    EXPECT_EQ(lookup(port, rootCode).body, serverJson("k-root", "root"));
}

// ---------------------------------------------------------------------------------------------
// Durability across restarts.

TEST(PairingDurabilityTest, RegistrationSurvivesKill9) {
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-durable", "ivan", 6000, 6001);
    server.restart(SIGKILL);  // right after the 200
    ASSERT_TRUE(server.ready);
    HttpResult r = lookup(server.pairing(), code);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, serverJson("k-durable", "ivan", 6000, 6001));
    auto status = parseStatus(serverStatus(server.pairing(), "k-durable"));
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->online);
}

TEST(PairingDurabilityTest, HeartbeatSurvivesGracefulRestart) {
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-beats", "judy");
    std::optional<Status> last;
    for (int i = 0; i < 3; ++i) {
        last = parseStatus(heartbeat(server.pairing(), "k-beats"));
        ASSERT_TRUE(last);
    }
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    HttpResult status = serverStatus(server.pairing(), "k-beats");
    EXPECT_EQ(status.status, 200);
    EXPECT_EQ(status.body, statusJson(true, last->lastHeartbeatText));
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("k-beats", "judy"));
}

TEST(PairingDurabilityTest, KeyWithNulCannotTakeOverAnotherServerAfterRestart) {
    // The store reads text back only up to a NUL byte (see DataStoreTextTest), so "victim\0x"
    // would load as "victim" and replace the real server's details after a restart.
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "victim", "alice", 2222, 2223);
    HttpResult before = serverStatus(server.pairing(), "victim");
    for (const std::string body :
         {R"({"ssh_pubkey":"victim\u0000x","ssh_user":"mallory","ssh_tunnel":6666,)"
          R"("listen_pubkey_tunnel":6667})",
          R"({"ssh_pubkey":"k-nul-user","ssh_user":"mal\u0000lory","ssh_tunnel":6666,)"
          R"("listen_pubkey_tunnel":6667})"}) {
        HttpResult r = registerRaw(server.pairing(), body);
        EXPECT_EQ(r.status, 400) << body;
        std::string field = body.find("victim") != std::string::npos ? "ssh_pubkey" : "ssh_user";
        EXPECT_EQ(r.body, errorJson(field + " must not contain NUL characters")) << body;
    }
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("victim", "alice", 2222, 2223));
    EXPECT_EQ(serverStatus(server.pairing(), "victim").body, before.body);
    EXPECT_EQ(serverStatus(server.pairing(), "k-nul-user").status, 404);
}

TEST(PairingDurabilityTest, ServerThatWentQuietWhileStoppedIsOfflineAfterStart) {
    Server server(pairingConfig("1s"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-quiet");
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    // Stay down until the registration is older than offline_after, measured on its own clock.
    auto registered = std::chrono::steady_clock::now();
    eventually([&] { return std::chrono::steady_clock::now() - registered > 1500ms; }, 5s);
    server.start();
    ASSERT_TRUE(server.ready);
    EXPECT_TRUE(isOffline(server.pairing(), "k-quiet"));
    EXPECT_EQ(lookup(server.pairing(), code).status, 404);
    EXPECT_EQ(heartbeat(server.pairing(), "k-quiet").status, 409);
}

TEST(PairingDurabilityTest, RegistrationTheStoreRefusesIs503WithRetryAfterAndHoldsNoCode) {
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    std::string database = server.dir.path() + "/var/switchboard.db";
    executeOnDatabase(database, "ALTER TABLE pairing_servers RENAME TO pairing_servers_away");
    HttpResult refused = registerRaw(server.pairing(), serverJson("k-refused", "kim"));
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.header("Retry-After"), "1");
    EXPECT_EQ(refused.body, errorJson("cannot store the registration"));
    EXPECT_EQ(serverStatus(server.pairing(), "k-refused").status, 404) << "not registered";
    executeOnDatabase(database, "ALTER TABLE pairing_servers_away RENAME TO pairing_servers");

    // Nothing was kept: the same registration now succeeds, and survives a restart.
    int code = registerServer(server.pairing(), "k-refused", "kim");
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("k-refused", "kim"));
}

TEST(PairingDurabilityTest, AllCodesHeldIs503AndRegistersNothing) {
    Server server(pairingConfig("60s"));
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-first", "first");
    ASSERT_NE(code, 0);
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    // Every other code held by an online server, as 9,000 live registrations leave the store.
    executeOnDatabase(server.dir.path() + "/var/switchboard.db",
                      "WITH RECURSIVE c(n) AS (SELECT 1000 UNION ALL SELECT n + 1 FROM c "
                      "WHERE n < 9999) INSERT INTO pairing_servers (ssh_pubkey, ssh_user, "
                      "ssh_tunnel, listen_pubkey_tunnel, pairing_code, online, last_heartbeat, "
                      "registered_at) SELECT 'k-' || n, 'u', 22, 23, n, 1, "
                      "(julianday('now') - 2440587.5) * 86400.0, "
                      "(julianday('now') - 2440587.5) * 86400.0 FROM c WHERE n <> " +
                          std::to_string(code));
    server.start();
    ASSERT_TRUE(server.ready);
    HttpResult full = registerRaw(server.pairing(), serverJson("k-late", "late"));
    EXPECT_EQ(full.status, 503);
    EXPECT_EQ(full.body, errorJson("no pairing codes available"));
    EXPECT_EQ(serverStatus(server.pairing(), "k-late").status, 404) << "not registered";
    // The servers holding the codes are untouched.
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("k-first", "first"));
    EXPECT_EQ(heartbeat(server.pairing(), "k-first").status, 200);
}

TEST(PairingRestartTest, RoutesAnswer503WhileARequestInsideHoldsTheRestart) {
    TempDir scripts;
    std::string script =
        scripts.write("hooks.lua", std::string(kLuaHold) +
                                       "function on_server_register(s)\n"
                                       "  if s.ssh_user == 'held' then hold_here() end\n"
                                       "  return true\n"
                                       "end\n");
    std::string lua = "lua: { scripts: [" + script + "] }\n";
    Server server(pairingConfig("60s"), lua);
    server.process.reset();  // again, with room to hold a request
    server.yaml = forHolding(server.yaml);
    server.start();
    ASSERT_TRUE(server.ready);
    int code = registerServer(server.pairing(), "k-known", "known");
    auto held = std::async(std::launch::async, [&] {
        return registerRaw(server.pairing(), serverJson("k-held", "held"));
    });
    ASSERT_TRUE(server.process->waitForLog("hook holding here")) << server.process->log();
    // A changed section restarts the plugin; it waits for the registration inside.
    server.dir.write("switchboard.yaml",
                     forHolding(configYaml(server.dir, server.ports, pairingConfig("61s"), lua)));
    auto reload = std::async(std::launch::async, [&] {
        return http("POST", server.admin(), "/admin/api/reload", "",
                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    });
    HttpResult restarting;
    EXPECT_TRUE(eventually([&] {
        restarting = lookup(server.pairing(), code);
        return restarting.status != 200;
    })) << server.process->log();
    EXPECT_EQ(restarting.status, 503);
    EXPECT_EQ(restarting.header("Retry-After"), "1");
    EXPECT_EQ(restarting.body, errorJson("plugin pairing is restarting; retry shortly"));
    EXPECT_EQ(heartbeat(server.pairing(), "k-known").body, restarting.body);
    releaseLuaHold(server.dir.path() + "/var/switchboard.db");
    HttpResult registered = held.get();
    EXPECT_EQ(registered.status, 200) << registered.body;
    EXPECT_EQ(reload.get().status, 200);
    // The new instance serves both registrations.
    EXPECT_EQ(lookup(server.pairing(), code).body, serverJson("k-known", "known"));
    EXPECT_EQ(serverStatus(server.pairing(), "k-held").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Configuration errors are fatal and precise.

TEST(PairingConfigTest, BadValuesAreReportedWithTheirPath) {
    TempDir dir;
    Ports ports;
    struct Case {
        std::string plugins;
        std::string message;
    } cases[] = {
        {"  pairing: { offline_after: 0s }\n",
         "plugins.pairing.offline_after: must be at least 1ms"},
        {"  pairing: { check_interval: 0s }\n",
         "plugins.pairing.check_interval: must be at least 1ms"},
        {"  pairing: { rate_limit: { window: 0s } }\n",
         "plugins.pairing.rate_limit.window: must be at least 1ms"},
        {"  pairing: { offline_after: soon }\n",
         "plugins.pairing.offline_after: expected a duration"},
        {"  pairing: { codes: 4 }\n", "plugins.pairing.codes"},
    };
    for (const auto& c : cases) {
        dir.write("switchboard.yaml", configYaml(dir, ports, c.plugins));
        RunResult r = runSwitchboard({"--config=" + dir.file("switchboard.yaml"), "--check-config"},
                                     dir.path());
        EXPECT_NE(r.exitCode, 0) << c.plugins;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.plugins << r.output;
    }
}

}  // namespace
}  // namespace switchboard::test
