// Helpers for the signaling plugin's integration tests: a server with auth and signaling on
// loopback, accounts with bearer tokens, REST calls, and a WebSocket agent that reads the
// server's JSON messages one at a time.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../auth/AuthTestSupport.h"
#include "TestSupport.h"

namespace switchboard::test::signaling {

using namespace std::chrono_literals;
using auth::authPlugin;
using auth::AuthServer;

/// The plugins block: auth (small hashes, no login throttling worth meeting) and signaling with
/// `options` (", key: value" inside its mapping).
inline std::string signalingPlugins(const std::string& options = "") {
    return authPlugin(", rate_limit: { per_address: 100000, per_account: 100000 }") +
           "  signaling: { listener: public" + options + " }\n";
}

/// A parsed JSON document (object or array) of a response or message.
inline rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    return d;
}

struct User {
    std::int64_t id = 0;
    std::string email;
    std::string token;
};

/// Registers and logs in `name`@example.com.
inline User makeUser(int port, const std::string& name) {
    User u;
    u.email = name + "@example.com";
    u.id = auth::registerUser(port, u.email, "password123");
    auto l = auth::login(port, "email", u.email, "password123");
    EXPECT_TRUE(l.ok()) << l.result.body;
    u.token = l.auth.bearer;
    return u;
}

inline HttpResult api(const std::string& method, int port, const std::string& path,
                      const std::string& token, const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) {
        headers["Authorization"] = "Bearer " + token;
    }
    return http(method, port, path, body, headers);
}

/// POST /organizations; returns the id (or -1 with a test failure).
inline std::int64_t createOrg(int port, const User& u, const std::string& subnet,
                              const std::string& name = "Org") {
    auto r = api("POST", port, "/organizations", u.token,
                 "{\"name\":\"" + name + "\",\"subnet\":\"" + subnet + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    return auth::jsonInt(r.body, "id");
}

inline void join(int port, const User& u, std::int64_t org) {
    auto r = api("POST", port, "/organizations/" + std::to_string(org) + "/join", u.token);
    EXPECT_EQ(r.status, 200) << r.body;
}

/// POST /organizations/{org}/allocate_ip; the address ("" with a test failure).
inline std::string allocate(int port, const User& u, std::int64_t org) {
    auto r =
        api("POST", port, "/organizations/" + std::to_string(org) + "/allocate_ip", u.token, "{}");
    EXPECT_EQ(r.status, 200) << r.body;
    return auth::jsonString(r.body, "virtual_ip");
}

/// A WebSocket client of /ws. Messages are read one at a time; pings are answered.
class Agent {
public:
    /// Connects with `?token=` (or, with `header`, an Authorization header; "" sends none).
    Agent(int port, const std::string& token, bool header = false,
          const std::string& path = "/ws") {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
        std::string target = path;
        if (!token.empty() && !header) {
            target += "?token=" + token;
        }
        Poco::Net::HTTPRequest request("GET", target, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!token.empty() && header) {
            request.set("Authorization", "Bearer " + token);
        }
        Poco::Net::HTTPResponse response;
        _ws = std::make_unique<Poco::Net::WebSocket>(session, request, response);
        _ws->setReceiveTimeout(Poco::Timespan(10, 0));
    }

    void send(const std::string& text) {
        _ws->sendFrame(text.data(), static_cast<int>(text.size()),
                       Poco::Net::WebSocket::FRAME_TEXT);
    }

    /// {"type":"register", ...} with `fields` (JSON members without braces) and the defaults
    /// public_ip/public_port unless `fields` replaces the whole body (`raw`).
    void registerAgent(const std::string& agentId, const std::string& more = "") {
        send("{\"type\":\"register\",\"agent_id\":\"" + agentId +
             "\",\"public_ip\":\"203.0.113.1\",\"public_port\":50000" + more + "}");
    }

    /// The next text message, or nullopt when the connection closed (closeCode() tells how) or
    /// nothing came within `timeout`.
    std::optional<std::string> next(std::chrono::milliseconds timeout = 10s) {
        if (_closed) {
            return std::nullopt;
        }
        _ws->setReceiveTimeout(Poco::Timespan(timeout.count() * 1000));
        std::vector<char> buffer(1 << 20);
        for (;;) {
            int flags = 0;
            int n = 0;
            try {
                n = _ws->receiveFrame(buffer.data(), static_cast<int>(buffer.size()), flags);
            } catch (const Poco::TimeoutException&) {
                return std::nullopt;
            } catch (const Poco::Exception&) {
                _closed = true;
                return std::nullopt;
            }
            int op = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
            if (op == Poco::Net::WebSocket::FRAME_OP_PING) {
                _ws->sendFrame(
                    buffer.data(), n,
                    Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_PONG);
                continue;
            }
            if (op == Poco::Net::WebSocket::FRAME_OP_CLOSE || (n == 0 && flags == 0)) {
                _closed = true;
                if (n >= 2) {
                    _closeCode = (static_cast<unsigned char>(buffer[0]) << 8) |
                                 static_cast<unsigned char>(buffer[1]);
                }
                return std::nullopt;
            }
            return std::string(buffer.data(), static_cast<std::size_t>(n));
        }
    }

    /// The next message whose "type" is `type` (others are kept in skipped()).
    std::optional<rapidjson::Document> nextOf(const std::string& type,
                                              std::chrono::milliseconds timeout = 10s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto m = next(std::max(left, std::chrono::milliseconds(1)));
            if (!m) {
                return std::nullopt;
            }
            auto d = parse(*m);
            if (d.IsObject() && d.HasMember("type") && d["type"].IsString() &&
                type == d["type"].GetString()) {
                return d;
            }
            _skipped.push_back(*m);
        }
        return std::nullopt;
    }

    /// Registers and returns the register_agent_response (a test failure if another arrives).
    rapidjson::Document registered(const std::string& agentId, const std::string& more = "") {
        registerAgent(agentId, more);
        auto m = next();
        EXPECT_TRUE(m.has_value()) << "no answer to register of " << agentId;
        auto d = parse(m.value_or("{}"));
        EXPECT_TRUE(d.IsObject() && d.HasMember("type") && d["type"] == "register_agent_response")
            << m.value_or("");
        return d;
    }

    /// Sends a close frame (a clean close) and waits for the server's.
    void closeCleanly() {
        _ws->shutdown(1000, "bye");
        while (next(5s)) {
        }
    }
    /// Drops the TCP connection without a close frame.
    void drop() {
        _ws->close();
        _closed = true;
    }
    /// Nothing arrives within `quiet` (the connection stays open).
    bool silent(std::chrono::milliseconds quiet = 300ms) {
        return !next(quiet).has_value() && !_closed;
    }

    /// Reads (and drops) messages until the server closes; false if it did not within 10 s.
    bool waitClosed() {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!_closed && std::chrono::steady_clock::now() < deadline) {
            next(1s);
        }
        return _closed;
    }
    bool closed() const { return _closed; }
    int closeCode() const { return _closeCode; }
    const std::vector<std::string>& skipped() const { return _skipped; }
    Poco::Net::WebSocket& socket() { return *_ws; }

private:
    std::unique_ptr<Poco::Net::WebSocket> _ws;
    bool _closed = false;
    int _closeCode = 0;
    std::vector<std::string> _skipped;
};

/// The single {"error": ...} an agent receives, then the close: returns the error text.
inline std::string errorThenClose(Agent& agent, int expectedCode = 1008) {
    auto m = agent.next();
    std::string error;
    if (m) {
        auto d = parse(*m);
        if (d.IsObject() && d.HasMember("error") && d["error"].IsString()) {
            error = d["error"].GetString();
        }
    }
    EXPECT_FALSE(agent.next().has_value()) << "expected the close after " << m.value_or("");
    EXPECT_TRUE(agent.closed());
    EXPECT_EQ(agent.closeCode(), expectedCode);
    return error;
}

}  // namespace switchboard::test::signaling
