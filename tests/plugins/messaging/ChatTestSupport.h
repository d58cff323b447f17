// Helpers for the messaging plugin's tests: a server with auth and messaging on a TLS chat
// listener, and a blocking TLS chat client that speaks the frames (3-byte header + JSON).
#pragma once

#include <gtest/gtest.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "TestSupport.h"

namespace switchboard::test::chat {

using namespace std::chrono_literals;

enum Type { ACK, ERR, DIS, MSG, LOG, SES, REG, LIS, FRP, HIS, UPD, CHP, CHM, DEL };

struct SslInit {
    SslInit() { Poco::Net::initializeSSL(); }
    ~SslInit() { Poco::Net::uninitializeSSL(); }
};

/// One frame as received.
struct Frame {
    int version = 1;
    int type = -1;  ///< -1: none arrived
    std::string payload;
    rapidjson::Document json() const {
        rapidjson::Document d;
        d.Parse(payload.c_str());
        return d;
    }
    /// The string member `key` ("" if absent).
    std::string str(const char* key) const {
        rapidjson::Document d = json();
        return d.IsObject() && d.HasMember(key) && d[key].IsString() ? d[key].GetString() : "";
    }
    bool has(const char* key) const {
        rapidjson::Document d = json();
        return d.IsObject() && d.HasMember(key);
    }
};

inline std::string header(int version, int type, std::size_t length) {
    std::string h;
    h += static_cast<char>((version << 6) | type);
    h += static_cast<char>((length >> 8) & 0xff);
    h += static_cast<char>(length & 0xff);
    return h;
}

inline std::string frame(int type, const std::string& payload) {
    return header(1, type, payload.size()) + payload;
}

/// A blocking TLS client of the chat protocol.
class ChatClient {
public:
    explicit ChatClient(int port, int receiveBuffer = 0) {
        Poco::Net::Context::Ptr context = new Poco::Net::Context(
            Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
        Poco::Net::SocketAddress address("127.0.0.1", static_cast<Poco::UInt16>(port));
        Poco::Net::StreamSocket tcp(Poco::Net::SocketAddress::IPv4);
        if (receiveBuffer > 0) {
            tcp.setReceiveBufferSize(receiveBuffer);
        }
        tcp.connect(address, Poco::Timespan(5, 0));
        _socket = std::make_unique<Poco::Net::SecureStreamSocket>(
            Poco::Net::SecureStreamSocket::attach(tcp, context));
        _socket->setNoDelay(true);
    }
    void sendRaw(const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            int n = _socket->sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
            if (n <= 0) {
                throw std::runtime_error("chat send failed");
            }
            sent += static_cast<std::size_t>(n);
        }
    }
    void send(int type, const std::string& payload) { sendRaw(frame(type, payload)); }
    /// The next frame, or type -1 if none arrives within `timeout` (or the server closed).
    Frame read(std::chrono::milliseconds timeout = 10s) {
        Frame f;
        if (!fill(3, timeout)) {
            return f;
        }
        auto first = static_cast<unsigned char>(_buffer[0]);
        std::size_t length =
            (static_cast<std::size_t>(static_cast<unsigned char>(_buffer[1])) << 8) |
            static_cast<unsigned char>(_buffer[2]);
        if (!fill(3 + length, timeout)) {
            return f;
        }
        f.version = first >> 6;
        f.type = first & 0x3f;
        f.payload = _buffer.substr(3, length);
        _buffer.erase(0, 3 + length);
        return f;
    }
    /// Reads a frame and checks its type.
    Frame expect(int type, std::chrono::milliseconds timeout = 10s) {
        Frame f = read(timeout);
        EXPECT_EQ(f.type, type) << "payload: " << f.payload.substr(0, 200);
        return f;
    }
    /// ERR with exactly `message`.
    void expectError(const std::string& message) {
        Frame f = expect(ERR);
        EXPECT_EQ(f.str("msg"), message) << f.payload;
    }
    /// LIS frames until one without "more"; with "next", asks LIS{"offset": next} for the
    /// rest (`frames` counts the frames read). Every user listed.
    std::vector<std::string> readList(int* frames = nullptr) {
        std::vector<std::string> users;
        for (;;) {
            Frame f = expect(LIS);
            if (frames != nullptr) {
                ++*frames;
            }
            EXPECT_LE(f.payload.size(), 65535u);
            rapidjson::Document d = f.json();
            if (!d.IsObject() || !d.HasMember("users")) {
                return users;
            }
            for (const auto& u : d["users"].GetArray()) {
                users.push_back(u.GetString());
            }
            if (d.HasMember("next")) {
                send(LIS, "{\"offset\":" + std::to_string(d["next"].GetInt64()) + "}");
            } else if (!d.HasMember("more")) {
                return users;
            }
        }
    }
    /// LOG, then SES and the LIS frames; false (with a test failure) otherwise.
    bool login(const std::string& name, const std::string& password) {
        send(LOG, "{\"login\":\"" + name + "\",\"password\":\"" + password + "\"}");
        Frame ses = read();
        if (ses.type != SES) {
            ADD_FAILURE() << "login of " << name << ": " << ses.type << " " << ses.payload;
            return false;
        }
        EXPECT_TRUE(ses.json().IsObject() && ses.json()["session"].IsInt64()) << ses.payload;
        users = readList();
        return true;
    }
    /// True once the server closed the connection (reads and drops frames meanwhile).
    bool closedWithin(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!fill(_buffer.size() + 1, 200ms) && _eof) {
                return true;
            }
        }
        return false;
    }
    Poco::Net::SecureStreamSocket& socket() { return *_socket; }
    std::vector<std::string> users;  ///< the list of the last login()

private:
    bool fill(std::size_t size, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        char chunk[16384];
        while (_buffer.size() < size) {
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || _eof) {
                return false;
            }
            try {
                _socket->setReceiveTimeout(Poco::Timespan(left.count()));
                int n = _socket->receiveBytes(chunk, sizeof chunk);
                if (n <= 0) {
                    _eof = true;
                    return false;
                }
                _buffer.append(chunk, static_cast<std::size_t>(n));
            } catch (const Poco::TimeoutException&) {
                return false;
            } catch (const Poco::Exception&) {
                _eof = true;
                return false;
            }
        }
        return true;
    }

    std::unique_ptr<Poco::Net::SecureStreamSocket> _socket;
    std::string _buffer;
    bool _eof = false;
};

/// The plugins block: auth with small Argon2id parameters and the known JWT secret, then
/// messaging with `options` (", key: value" inside its mapping).
inline std::string chatPlugins(const std::string& options = "",
                               const std::string& authOptions = "") {
    return "  auth: { listener: public, jwt: { secret: "
           "\"test-jwt-secret-0123456789abcdef0123456789abcdef\" }, password_hash: { memory: "
           "8MiB, passes: 1 }" +
           authOptions + " }\n  messaging: { listener: chat" + options + " }\n";
}

/// A switchboard process with auth and messaging, the chat listener TLS on its own port.
struct ChatServer {
    explicit ChatServer(const std::string& plugins = chatPlugins(), const std::string& script = "",
                        const std::string& chatSettings = "") {
        std::string more;
        if (!script.empty()) {
            more += "lua: { scripts: [" + dir.write("hooks.lua", script) + "] }\n";
        }
        yaml = configYaml(dir, ports, plugins, more);
        yaml.insert(yaml.find("admin: { token"),
                    "  chat: { bind: 127.0.0.1, port: " + std::to_string(ports.chat) +
                        ", protocol: stream, tls: { cert: var/tls/cert.pem, key: "
                        "var/tls/key.pem }" +
                        (chatSettings.empty() ? "" : ", " + chatSettings) + " }\n");
        start();
    }
    void start() {
        process = std::make_unique<ServerProcess>(dir, yaml);
        EXPECT_TRUE(process->waitReady(ports.admin)) << process->log();
    }
    void restart(int sig = SIGTERM) {
        process->signal(sig);
        process->wait();
        start();
    }
    int chat() const { return ports.chat; }
    std::string log() const { return process->log(); }
    /// REG over the chat; expects ACK.
    void registerUser(const std::string& login, const std::string& password = "password123",
                      const std::string& email = "") {
        ChatClient c(ports.chat);
        c.send(REG, "{\"login\":\"" + login + "\",\"password\":\"" + password + "\",\"email\":\"" +
                        (email.empty() ? login + "@example.com" : email) + "\"}");
        Frame f = c.read();
        EXPECT_EQ(f.type, ACK) << "REG " << login << ": " << f.payload;
    }

    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> process;
};

/// {"reciever": to, "msg": text}
inline std::string msg(const std::string& to, const std::string& text) {
    return "{\"reciever\":\"" + to + "\",\"msg\":\"" + text + "\"}";
}

}  // namespace switchboard::test::chat
