// Helpers for the auth plugin's integration tests: a server with the auth plugin on loopback,
// requests with cookies and bearer tokens, the admin event stream, JWT crafting, and a tiny
// SMTP server that keeps what it receives.
#pragma once

#include <gtest/gtest.h>

#include <Poco/Crypto/DigestEngine.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "TestSupport.h"

namespace switchboard::test::auth {

using namespace std::chrono_literals;

/// The JWT secret every test server is configured with (so tests can forge tokens).
inline const std::string kSecret = "test-jwt-secret-0123456789abcdef0123456789abcdef";

inline std::string errorJson(const std::string& message) {
    return "{\"error\":\"" + message + "\"}";
}

/// The plugins block for auth: small Argon2id parameters (8 MiB, 1 pass) so tests stay fast,
/// the known secret, and `options` (", key: value ..." inside the auth mapping).
inline std::string authPlugin(const std::string& options = "",
                              const std::string& jwt = "secret: \"" + kSecret + "\"") {
    return "  auth: { listener: public, jwt: { " + jwt +
           " }, password_hash: { memory: 8MiB, passes: 1 }" + options + " }\n";
}

/// A switchboard process with the auth plugin, its own directory and ports.
struct AuthServer {
    /// `edit` may change the YAML before the server starts.
    explicit AuthServer(const std::string& plugins = authPlugin(), const std::string& script = "",
                        const std::string& extra = "",
                        const std::function<void(AuthServer&)>& edit = {}) {
        std::string more = extra;
        if (!script.empty()) {
            more += "lua: { scripts: [" + dir.write("hooks.lua", script) + "] }\n";
        }
        yaml = configYaml(dir, ports, plugins, more);
        if (edit) {
            edit(*this);
        }
        start();
    }
    /// Starts the process; `expectReady` false for a start that is meant to fail.
    void start(bool expectReady = true) {
        process = std::make_unique<ServerProcess>(dir, yaml);
        ready = process->waitReady(ports.admin);
        if (expectReady) {
            EXPECT_TRUE(ready) << process->log();
        }
    }
    /// Stops with `sig` and starts again on the same directory, config and ports.
    void restart(int sig = SIGTERM) {
        process->signal(sig);
        int code = process->wait();
        EXPECT_EQ(code, sig == SIGKILL ? 128 + SIGKILL : 0) << process->log();
        start();
    }
    int pub() const { return ports.pub; }
    int admin() const { return ports.admin; }
    std::string log() const { return process->log(); }

    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> process;
    bool ready = false;
};

/// Credentials a request carries.
struct Auth {
    std::string cookie;  ///< sessionToken value
    std::string bearer;  ///< JWT
};

inline HttpResult call(const std::string& method, int port, const std::string& path,
                       const std::string& body = "", const Auth& auth = {}) {
    std::map<std::string, std::string> headers;
    if (!auth.cookie.empty()) {
        headers["Cookie"] = "sessionToken=" + auth.cookie;
    }
    if (!auth.bearer.empty()) {
        headers["Authorization"] = "Bearer " + auth.bearer;
    }
    return http(method, port, path, body, headers);
}

inline HttpResult post(int port, const std::string& path, const std::string& body,
                       const Auth& auth = {}) {
    return call("POST", port, path, body, auth);
}

/// The sessionToken value of a Set-Cookie header ("" if none).
inline std::string cookieValue(const std::string& setCookie) {
    const std::string prefix = "sessionToken=";
    if (setCookie.compare(0, prefix.size(), prefix) != 0) {
        return "";
    }
    return setCookie.substr(prefix.size(), setCookie.find(';') - prefix.size());
}

inline std::string jsonString(const std::string& body, const char* key) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsString()) {
        return "";
    }
    return d[key].GetString();
}

/// True if both texts parse to equal JSON values (object member order ignored: Lua tables
/// have none).
inline bool sameJson(const std::string& a, const std::string& b) {
    rapidjson::Document da, db;
    da.Parse(a.c_str());
    db.Parse(b.c_str());
    return !da.HasParseError() && !db.HasParseError() && da == db;
}

inline std::int64_t jsonInt(const std::string& body, const char* key) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsInt64()) {
        return -1;
    }
    return d[key].GetInt64();
}

/// The result of POST /login.
struct Login {
    HttpResult result;
    Auth auth;  ///< cookie and access token of a successful login
    bool ok() const { return result.status == 200; }
};

/// POST /login with {"<field>": login, "password": password}.
inline Login login(int port, const std::string& field, const std::string& name,
                   const std::string& password) {
    Login l;
    l.result = post(port, "/login",
                    "{\"" + field + "\":\"" + name + "\",\"password\":\"" + password + "\"}");
    l.auth.cookie = cookieValue(l.result.header("Set-Cookie"));
    l.auth.bearer = jsonString(l.result.body, "access_token");
    return l;
}

/// POST /register; returns the new account's id (or -1, with a test failure).
inline std::int64_t registerUser(int port, const std::string& email, const std::string& password,
                                 const std::string& username = "") {
    std::string body = "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"" +
                       (username.empty() ? "" : ",\"username\":\"" + username + "\"") + "}";
    HttpResult r = post(port, "/register", body);
    EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
    return jsonInt(r.body, "id");
}

inline HttpResult admin(const std::string& method, int adminPort, const std::string& path) {
    return http(method, adminPort, "/admin/api/auth" + path, "",
                {{"Authorization", std::string("Bearer ") + kAdminToken}});
}

// ---------------------------------------------------------------------------------------------
// Events

// ---------------------------------------------------------------------------------------------
// JWT crafting

inline std::string base64Url(const std::string& bytes) {
    static const char* alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                     (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                     static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (i + 1 == bytes.size()) {
        unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                     (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

/// HMAC-SHA256 of `data` under `key`, as raw bytes.
inline std::string sha256(const std::string& data) {
    Poco::Crypto::DigestEngine engine("SHA256");
    engine.update(data);
    const Poco::DigestEngine::Digest& d = engine.digest();
    return std::string(d.begin(), d.end());
}

/// HMAC-SHA256 (RFC 2104) of `data` under `key`, as raw bytes.
inline std::string hmacSha256(std::string key, const std::string& data) {
    if (key.size() > 64) {
        key = sha256(key);
    }
    key.resize(64, '\0');
    std::string inner = key, outer = key;
    for (std::size_t i = 0; i < 64; ++i) {
        inner[i] = static_cast<char>(inner[i] ^ 0x36);
        outer[i] = static_cast<char>(outer[i] ^ 0x5c);
    }
    return sha256(outer + sha256(inner + data));
}

/// header.payload.signature from raw JSON texts, signed with HS256 under `key` (or with an
/// empty signature when `key` is empty).
inline std::string forge(const std::string& headerJson, const std::string& payloadJson,
                         const std::string& key) {
    std::string input = base64Url(headerJson) + "." + base64Url(payloadJson);
    return input + "." + (key.empty() ? std::string() : base64Url(hmacSha256(key, input)));
}

inline std::int64_t epochSeconds() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

/// A payload with the claims the server issues.
inline std::string claims(std::int64_t sub, std::int64_t iat, std::int64_t exp,
                          const std::string& jti = "forged-jti") {
    return "{\"sub\":\"" + std::to_string(sub) + "\",\"iat\":" + std::to_string(iat) +
           ",\"exp\":" + std::to_string(exp) + ",\"jti\":\"" + jti + "\"}";
}

// ---------------------------------------------------------------------------------------------
// A tiny SMTP server on loopback

/// Speaks just enough SMTP (220, 250, 354, 221) for Poco's SMTPClientSession and keeps each
/// message. One connection at a time, on its own thread. With a server TLS context it offers
/// STARTTLS (Tls::StartTls) or speaks TLS from the first byte (Tls::Implicit).
class MiniSmtp {
public:
    enum class Tls { None, StartTls, Implicit };

    struct Message {
        std::string from;
        std::vector<std::string> to;
        std::string data;  ///< headers and body, dot-unstuffed, without the final "."
        bool encrypted = false;
    };

    explicit MiniSmtp(Tls tls = Tls::None, Poco::Net::Context::Ptr context = nullptr)
        : _socket(Poco::Net::SocketAddress("127.0.0.1", 0)), _tls(tls), _context(context) {
        _thread = std::thread([this] { run(); });
    }
    ~MiniSmtp() {
        _stop = true;
        _thread.join();
    }
    int port() const { return _socket.address().port(); }

    /// Waits until at least `n` messages arrived; returns them all.
    std::vector<Message> waitFor(std::size_t n, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock<std::mutex> lock(_mutex);
        _arrived.wait_for(lock, timeout, [&] { return _messages.size() >= n; });
        return _messages;
    }
    std::size_t count() {
        std::lock_guard<std::mutex> lock(_mutex);
        return _messages.size();
    }

private:
    void run() {
        while (!_stop) {
            if (!_socket.poll(Poco::Timespan(0, 50000), Poco::Net::Socket::SELECT_READ)) {
                continue;
            }
            try {
                Poco::Net::StreamSocket client = _socket.acceptConnection();
                client.setReceiveTimeout(Poco::Timespan(5, 0));
                if (_tls == Tls::Implicit) {
                    Poco::Net::SecureStreamSocket secure =
                        Poco::Net::SecureStreamSocket::attach(client, _context);
                    serve(secure);
                } else {
                    serve(client);
                }
            } catch (const Poco::Exception&) {
            }
        }
    }

    static bool readLine(Poco::Net::StreamSocket& s, std::string& buffer, std::string& line) {
        for (;;) {
            std::size_t eol = buffer.find("\r\n");
            if (eol != std::string::npos) {
                line = buffer.substr(0, eol);
                buffer.erase(0, eol + 2);
                return true;
            }
            char chunk[1024];
            int n = s.receiveBytes(chunk, sizeof chunk);
            if (n <= 0) {
                return false;
            }
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
    }

    static void reply(Poco::Net::StreamSocket& s, const std::string& text) {
        std::string line = text + "\r\n";
        s.sendBytes(line.data(), static_cast<int>(line.size()));
    }

    void serve(Poco::Net::StreamSocket& s, bool afterStartTls = false) {
        std::string buffer, line;
        Message message;
        if (!afterStartTls) {
            reply(s, "220 mini-smtp ready");
        }
        while (readLine(s, buffer, line)) {
            std::string verb = Poco::toUpper(line.substr(0, 4));
            if (verb == "EHLO" || verb == "HELO") {
                reply(s, _tls == Tls::StartTls && !_encrypted ? "250-mini-smtp\r\n250 STARTTLS"
                                                              : "250 mini-smtp");
            } else if (verb == "STAR" && _tls == Tls::StartTls && !_encrypted) {
                reply(s, "220 go ahead");
                Poco::Net::SecureStreamSocket secure =
                    Poco::Net::SecureStreamSocket::attach(s, _context);
                _encrypted = true;
                buffer.clear();
                serve(secure, true);
                _encrypted = false;
                return;
            } else if (verb == "MAIL") {
                message = Message{};
                message.from = Poco::trim(line.substr(line.find(':') + 1));
                reply(s, "250 ok");
            } else if (verb == "RCPT") {
                message.to.push_back(Poco::trim(line.substr(line.find(':') + 1)));
                reply(s, "250 ok");
            } else if (verb == "DATA") {
                reply(s, "354 go ahead");
                while (readLine(s, buffer, line) && line != ".") {
                    message.data += (line.compare(0, 2, "..") == 0 ? line.substr(1) : line) + "\n";
                }
                message.encrypted = _encrypted || _tls == Tls::Implicit;
                {
                    std::lock_guard<std::mutex> lock(_mutex);
                    _messages.push_back(message);
                }
                _arrived.notify_all();
                reply(s, "250 queued");
            } else if (verb == "QUIT") {
                reply(s, "221 bye");
                return;
            } else {
                reply(s, "250 ok");
            }
        }
    }

    Poco::Net::ServerSocket _socket;
    Tls _tls;
    Poco::Net::Context::Ptr _context;
    bool _encrypted = false;  ///< the current connection switched to TLS (server thread only)
    std::atomic<bool> _stop{false};
    std::thread _thread;
    std::mutex _mutex;
    std::condition_variable _arrived;
    std::vector<Message> _messages;
};

/// The 64-hex-digit reset token in a mail ("" if none).
inline std::string resetToken(const std::string& mail) {
    std::smatch m;
    static const std::regex token("\\b[0-9a-f]{64}\\b");
    return std::regex_search(mail, m, token) ? m.str() : "";
}

}  // namespace switchboard::test::auth
