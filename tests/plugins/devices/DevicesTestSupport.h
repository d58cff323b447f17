// Helpers shared by the devices plugin's integration tests: a real switchboard with the devices
// plugin on loopback ports, the admin enrolment calls, the device API calls the Meeting client
// makes, an event-stream subscriber, and direct reads of the SQLite file.
#pragma once

#include <gtest/gtest.h>

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "TestSupport.h"

namespace switchboard::test::devices {

using namespace std::chrono_literals;

inline std::string errorJson(const std::string& message) {
    return "{\"error\":\"" + message + "\"}";
}
inline std::string okJson(const std::string& message) {
    return "{\"ok\":true,\"message\":\"" + message + "\"}";
}
inline std::string failJson(const std::string& message) {
    return "{\"ok\":false,\"message\":\"" + message + "\"}";
}

inline double epochNow() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return static_cast<double>(us) / 1e6;
}

inline std::map<std::string, std::string> adminAuth() {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

/// The plugins: block line for devices with `options` appended (", key: value, ...").
inline std::string devicesConfig(const std::string& options = "") {
    return "  devices: { listener: public, check_interval: 100ms" + options + " }\n";
}

/// A running server with its own directory and ports.
struct Server {
    /// `serverKeys`: lines for the server: section (e.g. trusted_proxies).
    explicit Server(const std::string& plugins, const std::string& extra = "",
                    const std::string& serverKeys = "") {
        yaml = withServerKeys(configYaml(dir, ports, plugins, extra), serverKeys);
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
    int pub() const { return ports.pub; }
    int admin() const { return ports.admin; }
    std::string database() const { return dir.path() + "/var/switchboard.db"; }

    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> process;
    bool ready = false;
};

inline std::optional<rapidjson::Document> parseJson(const std::string& text) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str());
    if (d.HasParseError()) {
        ADD_FAILURE() << "not JSON: " << text;
        return std::nullopt;
    }
    return d;
}

/// A number as the server wrote it in `body` after "\"<name>\":".
inline std::string numberText(const std::string& body, const std::string& name) {
    std::string needle = "\"" + name + "\":";
    std::size_t at = body.find(needle);
    if (at == std::string::npos) {
        return "";
    }
    at += needle.size();
    std::size_t end = body.find_first_of(",}", at);
    return body.substr(at, end - at);
}

/// True if `text` is `count` characters, each one of `alphabet`.
inline bool consistsOf(const std::string& text, std::size_t count, const std::string& alphabet) {
    return text.size() == count && text.find_first_not_of(alphabet) == std::string::npos;
}

/// The token code of a reply that must be exactly
/// {"device_key":"<key>","token_code":"<6 upper-case hex>","token_expires_at":<number>}, or "".
inline std::string tokenOf(const HttpResult& r, int status, const std::string& key) {
    std::string prefix = "{\"device_key\":\"" + key + "\",\"token_code\":\"";
    if (r.status != status || r.body.compare(0, prefix.size(), prefix) != 0) {
        return "";
    }
    std::string code = r.body.substr(prefix.size(), 6);
    std::string expires = numberText(r.body, "token_expires_at");
    if (!consistsOf(code, 6, "0123456789ABCDEF") || expires.empty() ||
        !consistsOf(expires, expires.size(), "0123456789.") ||
        r.body != prefix + code + "\",\"token_expires_at\":" + expires + "}") {
        return "";
    }
    return code;
}

inline HttpResult adminCreate(int admin, const std::string& body) {
    return http("POST", admin, "/admin/api/devices", body, adminAuth());
}

/// Enrols `key` (with `note`), checks the 201 reply's exact shape, and returns the token code.
inline std::string enrol(int admin, const std::string& key, const std::string& note = "") {
    std::string body = "{\"device_key\":\"" + key + "\"";
    if (!note.empty()) {
        body += ",\"note\":\"" + note + "\"";
    }
    body += "}";
    HttpResult r = adminCreate(admin, body);
    std::string code = tokenOf(r, 201, key);
    if (code.empty()) {
        ADD_FAILURE() << "enrol " << key << ": " << r.status << " " << r.body;
    }
    return code;
}

/// POST /admin/api/devices/{key}/token; returns the new code ("" on failure).
inline std::string newToken(int admin, const std::string& key) {
    HttpResult r = http("POST", admin, "/admin/api/devices/" + key + "/token", "", adminAuth());
    std::string code = tokenOf(r, 200, key);
    if (code.empty()) {
        ADD_FAILURE() << "new token " << key << ": " << r.status << " " << r.body;
    }
    return code;
}

inline HttpResult adminShow(int admin, const std::string& key) {
    return http("GET", admin, "/admin/api/devices/" + key, "", adminAuth());
}

inline HttpResult adminRevoke(int admin, const std::string& key) {
    return http("DELETE", admin, "/admin/api/devices/" + key, "", adminAuth());
}

inline HttpResult registerRaw(int port, const std::string& key, const std::string& body) {
    return http("POST", port, "/api/devices/" + key + "/register", body);
}

/// What the Meeting client sends: {"token_code": ..., "device_info": {...}}.
inline HttpResult registerDevice(int port, const std::string& key, const std::string& token,
                                 const std::string& deviceInfo = "{}") {
    return registerRaw(port, key,
                       "{\"token_code\":\"" + token + "\",\"device_info\":" + deviceInfo + "}");
}

inline std::string registeredJson(const std::string& key) {
    return "{\"ok\":true,\"message\":\"Device registered\",\"device_key\":\"" + key + "\"}";
}

/// The device_secret a registration reply ends with (32 lowercase hex digits), or "".
inline std::string deviceSecretOf(const std::string& body) {
    static const std::string kField = ",\"device_secret\":\"";
    std::size_t at = body.rfind(kField);
    if (at == std::string::npos || body.size() != at + kField.size() + 32 + 2 ||
        body.compare(body.size() - 2, 2, "\"}") != 0) {
        return "";
    }
    std::string secret = body.substr(at + kField.size(), 32);
    return secret.find_first_not_of("0123456789abcdef") == std::string::npos ? secret : "";
}

/// Enrols and registers `key`; true on success.
inline bool enrolAndRegister(const Server& server, const std::string& key,
                             const std::string& deviceInfo = "{}") {
    std::string token = enrol(server.admin(), key);
    HttpResult r = registerDevice(server.pub(), key, token, deviceInfo);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, registeredJson(key));
    return r.status == 200;
}

inline HttpResult heartbeat(int port, const std::string& key, const std::string& body = "{}") {
    return http("POST", port, "/api/devices/" + key + "/online", body);
}

inline HttpResult details(int port, const std::string& key) {
    return http("GET", port, "/api/devices/" + key);
}

inline HttpResult putSshKey(int port, const std::string& key, const std::string& body) {
    return http("PUT", port, "/api/devices/" + key + "/ssh-key", body);
}

/// A device's stored row (devices joined with device_seen) read straight from the SQLite file (WAL:
/// safe while the server runs). Columns as text; NULL reads as "NULL".
inline std::map<std::string, std::string> storedRow(const std::string& database,
                                                    const std::string& key) {
    Poco::Data::SQLite::Connector::registerConnector();
    std::map<std::string, std::string> row;
    try {
        Poco::Data::Session session("SQLite", database);
        Poco::Data::Statement select(session);
        select << "SELECT d.device_key, COALESCE(d.token_hash, 'NULL'), d.registered,"
                  " COALESCE(CAST(d.registered_at AS TEXT), 'NULL'), d.revoked,"
                  " COALESCE(CAST(s.last_seen AS TEXT), 'NULL'), d.device_info,"
                  " COALESCE(d.ssh_pubkey, 'NULL'), d.note, COALESCE(d.secret_hash, 'NULL')"
                  " FROM devices d LEFT JOIN device_seen s ON s.id = d.id"
                  " WHERE d.device_key = ?",
            Poco::Data::Keywords::useRef(key), Poco::Data::Keywords::now;
        Poco::Data::RecordSet rs(select);
        if (rs.rowCount() == 1) {
            const char* names[] = {"device_key", "token_hash", "registered",  "registered_at",
                                   "revoked",    "last_seen",  "device_info", "ssh_pubkey",
                                   "note",       "secret_hash"};
            for (std::size_t i = 0; i < rs.columnCount(); ++i) {
                row[names[i]] = rs.value(i, 0).convert<std::string>();
            }
        }
    } catch (const Poco::Exception& e) {
        ADD_FAILURE() << "cannot read " << database << ": " << e.displayText();
    }
    return row;
}

/// Waits (without asserting anything about time) until `duration` has passed.
inline void sleepFor(std::chrono::milliseconds duration) {
    auto start = std::chrono::steady_clock::now();
    eventually([&] { return std::chrono::steady_clock::now() - start >= duration; }, duration + 5s);
}

}  // namespace switchboard::test::devices
