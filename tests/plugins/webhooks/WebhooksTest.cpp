// The webhooks plugin against the real binary and a loopback receiver (a POCO HTTPServer in the
// test): delivery, the HMAC signature, retry after a 500, giving up on a 4xx, a receiver that
// hangs does not slow the server, the queue bound and its drop count, config errors.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

const std::map<std::string, std::string> kAdmin = {
    {"Authorization", std::string("Bearer ") + kAdminToken}};
const std::string kSecret = "a-webhook-secret-of-32-characters";

std::string hmacHex(const std::string& key, const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
    std::string out;
    char hex[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(hex, sizeof hex, "%02x", digest[i]);
        out += hex;
    }
    return out;
}

/// A loopback webhook receiver: records every POST; answers with the next of `statuses` (the
/// last one repeats), or holds the request until release() while hang is set.
class Receiver {
public:
    struct Request {
        std::map<std::string, std::string> headers;
        std::string body;
    };

    /// With `tls`, an https receiver (the context holds its certificate).
    explicit Receiver(std::vector<int> statuses = {200}, Poco::Net::Context::Ptr tls = nullptr)
        : _statuses(std::move(statuses)) {
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(8);
        Poco::Net::SocketAddress any("127.0.0.1", 0);
        _server = std::make_unique<Poco::Net::HTTPServer>(
            new Factory(*this),
            tls ? Poco::Net::SecureServerSocket(any, 64, tls) : Poco::Net::ServerSocket(any),
            params);
        _server->start();
    }
    ~Receiver() {
        release();
        _server->stopAll(true);
    }
    int port() const { return _server->port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
    void hang() {
        std::lock_guard<std::mutex> lock(_mutex);
        _hang = true;
    }
    void release() {
        std::lock_guard<std::mutex> lock(_mutex);
        _hang = false;
        _changed.notify_all();
    }
    std::vector<Request> requests() {
        std::lock_guard<std::mutex> lock(_mutex);
        return _requests;
    }
    std::size_t count() { return requests().size(); }

private:
    class Handler : public Poco::Net::HTTPRequestHandler {
    public:
        explicit Handler(Receiver& r) : _r(r) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req,
                           Poco::Net::HTTPServerResponse& resp) override {
            Request seen;
            for (const auto& [name, value] : req) {
                seen.headers[name] = value;
            }
            Poco::StreamCopier::copyToString(req.stream(), seen.body);
            int status = 200;
            {
                std::unique_lock<std::mutex> lock(_r._mutex);
                _r._requests.push_back(seen);
                _r._changed.wait_for(lock, std::chrono::seconds(30), [&] { return !_r._hang; });
                status = _r._statuses.size() > 1 ? _r._statuses.front() : _r._statuses.back();
                if (_r._statuses.size() > 1) {
                    _r._statuses.erase(_r._statuses.begin());
                }
            }
            resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
            resp.setContentLength(2);
            resp.send() << "ok";
        }

    private:
        Receiver& _r;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
    public:
        explicit Factory(Receiver& r) : _r(r) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(
            const Poco::Net::HTTPServerRequest&) override {
            return new Handler(_r);
        }

    private:
        Receiver& _r;
    };

    std::mutex _mutex;
    std::condition_variable _changed;
    std::vector<int> _statuses;
    std::vector<Request> _requests;
    bool _hang = false;
    std::unique_ptr<Poco::Net::HTTPServer> _server;
};

/// Pairing (whose registrations publish server.online) and webhooks with one hook `presence`.
std::string config(const TempDir& dir, const Ports& ports, const std::string& url,
                   const std::string& hookOptions = "", const std::string& pluginOptions = "") {
    return configYaml(dir, ports,
                      "  pairing: { listener: pairing }\n"
                      "  webhooks:\n" +
                          (pluginOptions.empty() ? "" : "    " + pluginOptions + "\n") +
                          "    hooks:\n"
                          "      presence: { url: \"" +
                          url + "\", topics: [server.*], secret: " + kSecret +
                          (hookOptions.empty() ? "" : ", " + hookOptions) + " }\n");
}

HttpResult registerServer(int port, int n) {
    return http("POST", port, "/register_server",
                "{\"ssh_pubkey\":\"ssh-ed25519 AAAAkey" + std::to_string(n) +
                    "\",\"ssh_user\":\"user" + std::to_string(n) +
                    "\",\"ssh_tunnel\":3522,\"listen_pubkey_tunnel\":3533}");
}

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    return doc;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(WebhooksTest, DeliversEachEventSignedWithTheHooksSecret) {
    Receiver receiver;
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, config(dir, ports, receiver.url()));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    ASSERT_EQ(registerServer(ports.pairing, 1).status, 200);
    ASSERT_TRUE(eventually([&] { return receiver.count() == 1; })) << server.log();

    Receiver::Request r = receiver.requests()[0];
    EXPECT_EQ(r.headers["Content-Type"], "application/json");
    EXPECT_EQ(r.headers["X-Switchboard-Event"], "server.online");
    EXPECT_EQ(r.headers["X-Switchboard-Signature"], "sha256=" + hmacHex(kSecret, r.body));
    EXPECT_NE(r.headers["X-Switchboard-Signature"], "sha256=" + hmacHex("another secret", r.body));
    auto body = parse(r.body);
    ASSERT_TRUE(body.IsObject()) << r.body;
    EXPECT_STREQ(body["topic"].GetString(), "server.online");
    EXPECT_STREQ(body["hook"].GetString(), "presence");
    EXPECT_EQ(body["id"].GetString(), r.headers["X-Switchboard-Delivery"]);
    EXPECT_EQ(std::to_string(body["timestamp"].GetInt64()), r.headers["X-Switchboard-Timestamp"]);
    EXPECT_LE(
        std::abs(body["timestamp"].GetInt64() - static_cast<std::int64_t>(std::time(nullptr))), 60);
    EXPECT_STREQ(body["payload"]["ssh_user"].GetString(), "user1");

    HttpResult admin = http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin);
    ASSERT_EQ(admin.status, 200) << admin.body;
    EXPECT_TRUE(
        contains(admin.body, "\"hooks\":[{\"name\":\"presence\",\"url\":\"http://127.0.0.1:" +
                                 std::to_string(receiver.port()) +
                                 "/hook\",\"topics\":[\"server.*\"],\"delivered\":1,"
                                 "\"failed\":0,\"dropped\":0,\"retries\":0}]"))
        << admin.body;
    EXPECT_TRUE(contains(admin.body,
                         "\"topic\":\"server.online\",\"state\":\"delivered\","
                         "\"attempts\":1,\"status\":200,\"error\":null"))
        << admin.body;
    EXPECT_FALSE(contains(admin.body, kSecret));
    HttpResult metrics = http("GET", ports.admin, "/metrics", "", kAdmin);
    EXPECT_TRUE(contains(metrics.body, "switchboard_webhooks_delivered_total{hook=\"presence\"} 1"))
        << metrics.body;
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/webhooks?limit=0", "", kAdmin).body,
              "{\"error\":\"limit must be an integer from 1 to 1000\"}");
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/webhooks?offset=x", "", kAdmin).body,
              "{\"error\":\"offset must be a non-negative integer\"}");
    EXPECT_EQ(http("GET", ports.admin, "/admin/api/webhooks").status, 401);
}

TEST(WebhooksTest, RetriesAfterA500WithTheSameDeliveryAndGivesUpOnA400) {
    Receiver receiver({500, 200});
    Receiver refusing({400});
    TempDir dir;
    Ports ports;
    std::string yaml = config(dir, ports, receiver.url(), "backoff: 100ms");
    yaml += "      refusing: { url: \"" + refusing.url() +
            "\", topics: [server.online], secret: " + kSecret + ", backoff: 100ms }\n";
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    ASSERT_EQ(registerServer(ports.pairing, 2).status, 200);
    ASSERT_TRUE(eventually([&] { return receiver.count() == 2; })) << server.log();
    auto first = receiver.requests()[0];
    auto second = receiver.requests()[1];
    EXPECT_EQ(first.body, second.body);
    EXPECT_EQ(first.headers["X-Switchboard-Delivery"], second.headers["X-Switchboard-Delivery"]);
    EXPECT_EQ(second.headers["X-Switchboard-Signature"], "sha256=" + hmacHex(kSecret, second.body));

    ASSERT_TRUE(eventually([&] {
        return contains(http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body,
                        "\"hook\":\"presence\",\"topic\":\"server.online\",\"state\":"
                        "\"delivered\",\"attempts\":2,\"status\":200");
    }));
    ASSERT_TRUE(eventually([&] {
        return contains(http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body,
                        "\"hook\":\"refusing\",\"topic\":\"server.online\",\"state\":\"failed\","
                        "\"attempts\":1,\"status\":400");
    }));
    EXPECT_EQ(refusing.count(), 1u);
    HttpResult metrics = http("GET", ports.admin, "/metrics", "", kAdmin);
    EXPECT_TRUE(contains(metrics.body, "switchboard_webhooks_retries_total{hook=\"presence\"} 1"));
    EXPECT_TRUE(contains(metrics.body, "switchboard_webhooks_failed_total{hook=\"refusing\"} 1"));
    EXPECT_TRUE(
        server.waitForLog("webhook refusing: HTTP 400 for server.online after 1 "
                          "attempt(s), given up"));
}

TEST(WebhooksTest, AHangingReceiverNeitherSlowsTheServerNorGrowsTheQueue) {
    Receiver receiver;
    receiver.hang();
    TempDir dir;
    Ports ports;
    ServerProcess server(
        dir, config(dir, ports, receiver.url(), "timeout: 30s", "threads: 1\n    queue_size: 4"));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    ASSERT_EQ(registerServer(ports.pairing, 0).status, 200);
    ASSERT_TRUE(eventually([&] { return receiver.count() == 1; }));  // now held by the receiver
    // Every request is answered while the one delivery thread waits on the receiver (its
    // timeout is 30 s: nothing here waits for it).
    for (int i = 1; i < 10; ++i) {
        HttpResult r = registerServer(ports.pairing, i);
        ASSERT_EQ(r.status, 200) << r.body;
    }
    ASSERT_EQ(http("GET", ports.pub, "/healthz").status, 200);
    // 10 events: 1 being delivered, 4 waiting (queue_size), 5 dropped and counted.
    ASSERT_TRUE(eventually([&] {
        return contains(http("GET", ports.admin, "/metrics", "", kAdmin).body,
                        "switchboard_webhooks_dropped_total{hook=\"presence\"} 5");
    })) << http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body;
    HttpResult admin = http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin);
    EXPECT_TRUE(contains(admin.body, "{\"queued\":4,\"delivering\":1,")) << admin.body;
    EXPECT_TRUE(contains(admin.body, "\"delivered\":0,\"failed\":0,\"dropped\":5")) << admin.body;
    EXPECT_TRUE(contains(http("GET", ports.admin, "/metrics", "", kAdmin).body,
                         "switchboard_webhooks_queued 4"));
    EXPECT_EQ(receiver.count(), 1u);

    // A stop does not wait for the receiver either: the attempt is cut off.
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(std::chrono::seconds(10)), 0) << server.log();
    EXPECT_TRUE(contains(server.log(), "stopping with 4 webhook deliveries not made"))
        << server.log();
}

TEST(WebhooksTest, ConfigErrorsNameTheHookAndTheKey) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports,
                                  "  webhooks:\n"
                                  "    hooks:\n"
                                  "      a: { url: \"ftp://x/\", topics: [server.*], secret: " +
                                      kSecret +
                                      " }\n"
                                      "      b: { url: \"http://127.0.0.1:1/\", topics: [], "
                                      "secret: short }\n"
                                      "      c: { url: \"http://127.0.0.1:1/\", topics: [a*b], "
                                      "secret: " +
                                      kSecret +
                                      " }\n"
                                      "      d: { url: \"http://127.0.0.1:1/\", topics: "
                                      "[internal.signaling.signal], secret: " +
                                      kSecret + " }\n");
    RunResult r =
        runSwitchboard({"--check-config", "--config=" + dir.write("bad.yaml", yaml)}, dir.path());
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(contains(r.output,
                         "plugins.webhooks.hooks.a.url: expected an http:// or "
                         "https:// URL with a host, got ftp://x/"))
        << r.output;
    EXPECT_TRUE(contains(r.output,
                         "plugins.webhooks.hooks.b.topics: at least one topic pattern "
                         "is required"))
        << r.output;
    EXPECT_TRUE(contains(r.output,
                         "plugins.webhooks.hooks.b.secret: must be at least 16 "
                         "characters"))
        << r.output;
    EXPECT_TRUE(contains(r.output,
                         "plugins.webhooks.hooks.c.topics: 'a*b' is not a topic "
                         "pattern (exact, prefix.* or *)"))
        << r.output;
    EXPECT_TRUE(contains(r.output,
                         "plugins.webhooks.hooks.d.topics: 'internal.signaling.signal': "
                         "internal topics are not sent"))
        << r.output;
}

TEST(WebhooksTest, HttpsReceiversAreVerifiedAgainstTheHooksCaFile) {
    TempDir dir;
    dir.write("mkcert.sh",
              "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
              "-subj /CN=localhost "
              "-addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem 2>/dev/null\n");
    ASSERT_EQ(runCommand({"/bin/sh", "mkcert.sh"}, dir.path()).exitCode, 0);
    Poco::Net::Context::Ptr tls =
        new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, dir.file("key.pem"),
                               dir.file("cert.pem"), "", Poco::Net::Context::VERIFY_NONE);
    Receiver receiver({200}, tls);
    std::string url = "https://localhost:" + std::to_string(receiver.port()) + "/hook";
    Ports ports;
    std::string yaml =
        configYaml(dir, ports,
                   "  pairing: { listener: pairing }\n"
                   "  webhooks:\n"
                   "    hooks:\n"
                   "      trusted: { url: \"" +
                       url + "\", topics: [server.*], secret: " + kSecret +
                       ", ca_file: " + dir.file("cert.pem") +
                       " }\n"
                       "      untrusted: { url: \"" +
                       url + "\", topics: [server.*], secret: " + kSecret + ", retry_for: 0s }\n");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    ASSERT_EQ(registerServer(ports.pairing, 7).status, 200);
    ASSERT_TRUE(eventually([&] { return receiver.count() == 1; })) << server.log();
    auto r = receiver.requests()[0];
    EXPECT_EQ(r.headers["X-Switchboard-Signature"], "sha256=" + hmacHex(kSecret, r.body));
    EXPECT_TRUE(contains(r.body, "\"hook\":\"trusted\"")) << r.body;
    // The self-signed receiver is not in the system's CAs: that hook's attempt fails, once.
    ASSERT_TRUE(eventually([&] {
        return contains(http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body,
                        "\"hook\":\"untrusted\",\"topic\":\"server.online\",\"state\":"
                        "\"failed\",\"attempts\":1,\"status\":null,\"error\":\"");
    })) << http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body;
    EXPECT_EQ(receiver.count(), 1u);
    EXPECT_TRUE(contains(http("GET", ports.admin, "/admin/api/webhooks", "", kAdmin).body,
                         "certificate verify failed"));
}
