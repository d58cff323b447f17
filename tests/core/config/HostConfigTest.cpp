// The host's schema: the bounds of its durations and sizes (each value at its edge is accepted,
// just past it is an error with file, line and key), and the zero-means-never fields keep 0.
#include "config/HostConfig.h"

#include <gtest/gtest.h>

#include "config/ConfigDocument.h"

using namespace switchboard;
using Strings = std::vector<std::string>;

namespace {

/// Problems of a config whose admin listener carries `listener` and which ends with `extra`.
Strings problems(const std::string& listener, const std::string& extra = "") {
    std::string yaml = "listeners:\n  admin: { port: 9000" + listener + " }\n" + extra;
    Strings errors;
    HostConfig::parse(ConfigDocument::loadString(yaml, "host.yaml"), "/tmp", errors);
    return errors;
}

}  // namespace

TEST(HostConfigTest, BoundedValuesAtTheirEdgesAreAccepted) {
    EXPECT_EQ(problems(", max_body: 1, request_timeout: 1ms, websocket: { max_message: 1, "
                       "io_timeout: 1ms }, stream: { io_timeout: 1ms }",
                       "server: { shutdown_timeout: 1ms }\nstore: { flush_interval: 1ms }\n"
                       "lua: { memory_limit: 1MiB }\n"),
              Strings{});
    EXPECT_EQ(problems(", websocket: { max_message: 1GiB }"), Strings{});
}

TEST(HostConfigTest, ZeroMeansNeverWhereItIsDocumented) {
    EXPECT_EQ(problems(", keepalive_timeout: 0s, websocket: { idle_timeout: 0s }, "
                       "stream: { idle_timeout: 0s }"),
              Strings{});
}

TEST(HostConfigTest, ValuesJustPastTheBoundsAreReported) {
    EXPECT_EQ(problems(", max_body: 0, request_timeout: 0s, websocket: { max_message: 0, "
                       "io_timeout: 0s }, stream: { io_timeout: 0s }",
                       "server: { shutdown_timeout: 0s }\nstore: { flush_interval: 0s }\n"
                       "lua: { memory_limit: 1023KiB }\n"),
              (Strings{
                  // In file order: the listener is written first.
                  "host.yaml:2: listeners.admin.max_body: must be at least 1B",
                  "host.yaml:2: listeners.admin.request_timeout: must be at least 1ms",
                  "host.yaml:2: listeners.admin.websocket.max_message: must be between 1B and "
                  "1GiB",
                  "host.yaml:2: listeners.admin.websocket.io_timeout: must be at least 1ms",
                  "host.yaml:2: listeners.admin.stream.io_timeout: must be at least 1ms",
                  "host.yaml:3: server.shutdown_timeout: must be at least 1ms",
                  "host.yaml:4: store.flush_interval: must be at least 1ms",
                  "host.yaml:5: lua.memory_limit: must be at least 1MiB",
              }));
    EXPECT_EQ(problems(", websocket: { max_message: 1025MiB }"),
              Strings{"host.yaml:2: listeners.admin.websocket.max_message: must be between 1B "
                      "and 1GiB"});
}

// Found by fuzz/yaml_config_fuzz: a listener named "" (or "a.b") passed validation and then
// failed as "listeners.: not declared as section", naming no file or line.
TEST(HostConfigTest, SectionNamesThatCannotBeReadBackAreReported) {
    EXPECT_EQ(problems("", "  \"\": { port: 9001 }\n  a.b: { port: 9002 }\n"),
              (Strings{
                  "host.yaml:3: listeners: a name must be non-empty, without '.'",
                  "host.yaml:4: listeners.a.b: a name must be non-empty, without '.'",
              }));
}
