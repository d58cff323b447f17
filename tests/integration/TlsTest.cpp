// TLS on the real binary: a stream (TLS TCP) listener served by the reactor, HTTPS with the
// generated development certificate, and client-certificate verification against a CA file.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

struct SslInit {
    SslInit() { Poco::Net::initializeSSL(); }
    ~SslInit() { Poco::Net::uninitializeSSL(); }
};
SslInit sslInit;

Poco::Net::Context::Ptr clientContext(const std::string& ca, const std::string& cert = "",
                                      const std::string& key = "") {
    Poco::Net::Context::Params p;
    p.caLocation = ca;
    p.certificateFile = cert;
    p.privateKeyFile = key;
    p.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    p.loadDefaultCAs = false;
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
}

TEST(TlsTest, StreamListenerEchoesOverTls) {
    TempDir dir;
    Ports ports;
    std::string yaml = configYaml(dir, ports, "  testkit: { stream_listener: chat }\n");
    yaml.replace(yaml.find("admin: { token"), 0,
                 "");  // keep admin; add the chat listener below
    std::string chat = "  chat: { bind: 127.0.0.1, port: " + std::to_string(ports.chat) +
                       ", tls: { cert: var/tls/cert.pem, key: var/tls/key.pem } }\n";
    yaml.insert(yaml.find("admin: { token"), chat);
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.pub)) << server.log();
    EXPECT_TRUE(server.waitForLog("generated a self-signed development certificate"));

    Poco::Net::SecureStreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(ports.chat)), "localhost",
        clientContext(dir.file("var/tls/cert.pem")));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    std::string frame("\x43\x00\x05hello", 8);
    socket.sendBytes(frame.data(), static_cast<int>(frame.size()));
    std::string got;
    char buffer[64];
    while (got.size() < frame.size()) {
        int n = socket.receiveBytes(buffer, sizeof buffer);
        ASSERT_GT(n, 0);
        got.append(buffer, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, frame);

    // A client that does not speak TLS is dropped; the listener keeps serving.
    Poco::Net::StreamSocket plain(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(ports.chat)));
    plain.setReceiveTimeout(Poco::Timespan(10, 0));
    plain.sendBytes("GET / HTTP/1.0\r\n\r\n", 18);
    int n = 0;
    try {
        n = plain.receiveBytes(buffer, sizeof buffer);
    } catch (const Poco::Exception&) {
    }
    EXPECT_LE(n, 7);  // at most a TLS alert, never an echo
    socket.sendBytes("again", 5);
    EXPECT_EQ(socket.receiveBytes(buffer, sizeof buffer), 5);
}

TEST(TlsTest, HttpsListenerWithClientCertificates) {
    TempDir dir;
    // A CA, a client certificate it signs, and a client certificate it does not.
    std::string script =
        "set -e\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null\n"
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client "
        "-keyout client.key -out client.csr 2>/dev/null\n"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem 2>/dev/null\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=stranger -keyout stranger.key -out stranger.pem 2>/dev/null\n";
    dir.write("mkcerts.sh", script);
    ASSERT_EQ(runCommand({"/bin/sh", "mkcerts.sh"}, dir.path()).exitCode, 0);

    Ports ports;
    std::string yaml = withListener(
        configYaml(dir, ports, "  testkit: { listener: public }\n"), "public", ports.pub,
        "tls: { cert: var/tls/cert.pem, key: var/tls/key.pem, ca: ca.pem }");
    ServerProcess server(dir, yaml);
    ASSERT_TRUE(server.waitReady(ports.admin)) << server.log();

    auto get = [&](Poco::Net::Context::Ptr context) {
        Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(ports.pub),
                                              context);
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest request("GET", "/testkit/greeting", "HTTP/1.1");
        request.setHost("localhost");
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::string body;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
        return std::to_string(response.getStatus()) + " " + body;
    };
    std::string serverCa = dir.file("var/tls/cert.pem");
    EXPECT_EQ(get(clientContext(serverCa, dir.file("client.pem"), dir.file("client.key"))),
              "200 {\"greeting\":\"hello\"}");
    EXPECT_THROW(get(clientContext(serverCa)), Poco::Exception);
    EXPECT_THROW(get(clientContext(serverCa, dir.file("stranger.pem"), dir.file("stranger.key"))),
                 Poco::Exception);
    EXPECT_TRUE(server.running());
}

}  // namespace
