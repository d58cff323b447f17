// Two switchboard nodes on one PostgreSQL store (a schema of the test's own, from ctest's pg
// fixture) and one real redis-server, for the Cluster*Test suites (they run as pg.* only:
// tests/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "TestSupport.h"

namespace switchboard::test {

/// `yaml` with its store.url replaced by `url`.
inline std::string withStore(std::string yaml, const std::string& url) {
    const std::string key = "store: { url: \"";
    std::size_t at = yaml.find(key);
    std::size_t end = yaml.find('"', at + key.size());
    yaml.replace(at + key.size(), end - at - key.size(), url);
    return yaml;
}

struct Node {
    TempDir dir;
    Ports ports;
    std::string yaml;
    std::unique_ptr<ServerProcess> process;
    void start() {
        process = std::make_unique<ServerProcess>(dir, yaml);
        ASSERT_TRUE(process->waitReady(ports.admin)) << process->log();
    }
    int pub() const { return ports.pub; }
};

/// Nodes a and b with `plugins` on one store and one bus.
class ClusterTest : public testing::Test {
protected:
    void startCluster(const std::string& plugins, const std::string& extra = "") {
        ASSERT_EQ(testBackend(), "postgresql") << "Cluster tests run as pg.Cluster*Test.*";
        std::string url = storeUrl(_shared);
        for (Node* n : {&a, &b}) {
            n->yaml = withStore(configYaml(n->dir, n->ports, plugins,
                                           "bus: { url: \"" + redis.url() + "\" }\n" + extra),
                                url);
        }
        a.start();
        b.start();
    }

    RedisServer redis;
    TempDir _shared;
    Node a, b;
};

/// How often `needle` occurs in `text`.
inline std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

/// A TunneLink server's registration body for `key`.
inline std::string serverJson(const std::string& key) {
    return "{\"ssh_pubkey\":\"" + key +
           "\",\"ssh_user\":\"tunnel\",\"ssh_tunnel\":3522,\"listen_pubkey_tunnel\":3533}";
}

/// Registers `key` on the pairing listener at `port`; its pairing code (0 if refused).
inline int registerServer(int port, const std::string& key) {
    HttpResult r = http("POST", port, "/register_server", serverJson(key));
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    return !d.HasParseError() && d.IsObject() && d.HasMember("pairing_code") &&
                   d["pairing_code"].IsInt()
               ? d["pairing_code"].GetInt()
               : 0;
}

/// POST /server_status with `action` (heartbeat, get_server_status) for `key`.
inline HttpResult serverStatus(int port, const std::string& key, const std::string& action) {
    return http("POST", port, "/server_status",
                "{\"ssh_pubkey\":\"" + key + "\",\"action\":\"" + action + "\"}");
}

}  // namespace switchboard::test
