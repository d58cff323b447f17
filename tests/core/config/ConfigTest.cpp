// Config as data: schema declaration and Markdown docs, YAML validation with exact messages,
// ${VAR} expansion, typed dotted getters and fingerprints.
#include "TestSupport.h"
#include "config/ConfigDocument.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace switchboard;
using Strings = std::vector<std::string>;

namespace {

/// Every type once, plus a nested section and a section map.
ConfigSchema testSchema() {
    ConfigSchema schema;
    schema.string("name", "switchboard", "Server name")
        .integer("port", 8000, 1, 65535, "TCP port")
        .number("ratio", 0.5, "Share of something")
        .boolean("debug", false, "Debug mode")
        .duration("timeout", "90s", "Idle timeout")
        .size("max_body", "4MiB", "Request body cap")
        .choice("level", "information", {"debug", "information", "warning"}, "Log level")
        .stringList("scripts", "Lua scripts")
        .stringMap("credentials", "User | password pairs")
        .any("plugins", "Plugin blocks");
    schema.section("tls", "TLS")
        .string("cert", "cert.pem", "Certificate")
        .duration("handshake", "5s", "Handshake timeout");
    ConfigSchema& listener = schema.sectionMap("listeners", "Named listeners");
    listener.string("bind", "0.0.0.0", "Address").integer("port", 0, 0, 65535, "Port").required();
    return schema;
}

/// Validates `yaml` (as file test.yaml) at `path` and returns the errors.
Strings check(const std::string& yaml, const ConfigSchema& schema = testSchema(),
              const std::string& path = "") {
    Strings errors;
    ConfigDocument::loadString(yaml, "test.yaml").validate(path, schema, errors);
    return errors;
}

/// Validates `yaml` that must be free of errors.
ConfigSection load(const std::string& yaml, const ConfigSchema& schema = testSchema()) {
    Strings errors;
    ConfigSection section =
        ConfigDocument::loadString(yaml, "test.yaml").validate("", schema, errors);
    EXPECT_EQ(errors, Strings{}) << yaml;
    return section;
}

std::string firstError(const std::string& yaml) {
    Strings errors = check(yaml);
    return errors.empty() ? "<no error>" : errors.front();
}

}  // namespace

TEST(ConfigTest, DefaultsApplied) {
    ConfigSection config = load("");
    EXPECT_EQ(config.getString("name"), "switchboard");
    EXPECT_EQ(config.getInt("port"), 8000);
    EXPECT_EQ(config.getNumber("ratio"), 0.5);
    EXPECT_FALSE(config.getBool("debug"));
    EXPECT_EQ(config.getDuration("timeout"), std::chrono::seconds(90));
    EXPECT_EQ(config.getSize("max_body"), 4u << 20);
    EXPECT_EQ(config.getString("level"), "information");
    EXPECT_EQ(config.getStringList("scripts"), Strings{});
    EXPECT_TRUE(config.getStringMap("credentials").empty());
    EXPECT_EQ(config.getString("tls.cert"), "cert.pem");
    EXPECT_EQ(config.getDuration("tls.handshake"), std::chrono::seconds(5));
    EXPECT_EQ(config.sectionNames("listeners"), Strings{});
    EXPECT_FALSE(config.isSet("port"));
    EXPECT_FALSE(config.isSet("tls"));
    EXPECT_EQ(config.location("port"), "test.yaml");
    EXPECT_EQ(config.section("tls").path(), "tls");
}

TEST(ConfigTest, ValuesParsed) {
    ConfigSection config = load(
        "name: edge\n"
        "port: 9000\n"
        "ratio: 1.25\n"
        "debug: yes\n"
        "timeout: 1h30m\n"
        "max_body: 64KiB\n"
        "level: debug\n"
        "scripts: [a.lua, b.lua]\n"
        "credentials: {zoe: z1, adam: a1}\n"
        "tls:\n"
        "  cert: /etc/tls.pem\n");
    EXPECT_EQ(config.getString("name"), "edge");
    EXPECT_EQ(config.getInt("port"), 9000);
    EXPECT_EQ(config.getNumber("ratio"), 1.25);
    EXPECT_TRUE(config.getBool("debug"));
    EXPECT_EQ(config.getDuration("timeout"), std::chrono::minutes(90));
    EXPECT_EQ(config.getSize("max_body"), 65536u);
    EXPECT_EQ(config.getString("level"), "debug");
    EXPECT_EQ(config.getStringList("scripts"), (Strings{"a.lua", "b.lua"}));
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(config.getStringMap("credentials"), (Pairs{{"zoe", "z1"}, {"adam", "a1"}}));
    EXPECT_EQ(config.getString("tls.cert"), "/etc/tls.pem");
    EXPECT_EQ(config.section("tls").getString("cert"), "/etc/tls.pem");
    EXPECT_TRUE(config.isSet("port"));
    EXPECT_TRUE(config.isSet("tls.cert"));
    EXPECT_FALSE(config.isSet("tls.handshake"));
    EXPECT_EQ(config.location("port"), "test.yaml:2");
    EXPECT_EQ(config.location("tls.cert"), "test.yaml:11");
    EXPECT_EQ(config.section("tls").location(), "test.yaml:10");
}

TEST(ConfigTest, DurationsAndSizes) {
    using std::chrono::milliseconds;
    const std::pair<const char*, milliseconds> durations[] = {
        {"500ms", milliseconds(500)},     {"90s", milliseconds(90000)},
        {"5m", milliseconds(300000)},     {"24h", milliseconds(86400000)},
        {"7d", milliseconds(604800000)},  {"1h30m", milliseconds(5400000)},
        {"1m1s1ms", milliseconds(61001)}, {"0", milliseconds(0)}};
    for (const auto& [text, value] : durations) {
        EXPECT_EQ(load(std::string("timeout: ") + text).getDuration("timeout"), value) << text;
    }
    const std::pair<const char*, std::uint64_t> sizes[] = {
        {"512", 512},  {"512B", 512},    {"64KiB", 65536},    {"4MiB", 4194304}, {"1GiB", 1u << 30},
        {"2KB", 2000}, {"3MB", 3000000}, {"1GB", 1000000000}, {"0", 0}};
    for (const auto& [text, value] : sizes) {
        EXPECT_EQ(load(std::string("max_body: ") + text).getSize("max_body"), value) << text;
    }
    for (const char* text : {"true", "on", "yes", "TRUE"}) {
        EXPECT_TRUE(load(std::string("debug: ") + text).getBool("debug")) << text;
    }
    for (const char* text : {"false", "off", "no"}) {
        EXPECT_FALSE(load(std::string("debug: ") + text).getBool("debug")) << text;
    }
}

TEST(ConfigTest, ErrorMessages) {
    const std::pair<const char*, const char*> cases[] = {
        {"bogus: 1", "test.yaml:1: bogus: unknown key"},
        {"tls:\n  bogus: 1", "test.yaml:2: tls.bogus: unknown key"},
        {"port: 80x", "test.yaml:1: port: expected an integer"},
        {"port: 1.5", "test.yaml:1: port: expected an integer"},
        {"port:", "test.yaml:1: port: expected an integer"},
        {"port: 70000", "test.yaml:1: port: must be between 1 and 65535"},
        {"port: 0", "test.yaml:1: port: must be between 1 and 65535"},
        {"ratio: much", "test.yaml:1: ratio: expected a number"},
        {"debug: maybe", "test.yaml:1: debug: expected true or false"},
        {"timeout: 90", "test.yaml:1: timeout: expected a duration like 90s"},
        {"timeout: 90x", "test.yaml:1: timeout: expected a duration like 90s"},
        {"timeout: 30m1h", "test.yaml:1: timeout: expected a duration like 90s"},
        {"timeout: -5s", "test.yaml:1: timeout: expected a duration like 90s"},
        {"max_body: 4Mib", "test.yaml:1: max_body: expected a size like 4MiB"},
        {"max_body: lots", "test.yaml:1: max_body: expected a size like 4MiB"},
        {"level: loud", "test.yaml:1: level: expected one of: debug, information, warning"},
        {"name: {a: 1}", "test.yaml:1: name: expected a string"},
        {"name: [a]", "test.yaml:1: name: expected a string"},
        {"scripts: a.lua", "test.yaml:1: scripts: expected a list of strings"},
        {"scripts: [a, [b]]", "test.yaml:1: scripts: expected a list of strings"},
        {"credentials: [a]", "test.yaml:1: credentials: expected a mapping"},
        {"credentials: {a: [b]}", "test.yaml:1: credentials.a: expected a string"},
        {"tls: yes", "test.yaml:1: tls: expected a mapping"},
        {"listeners: [a]", "test.yaml:1: listeners: expected a mapping"},
        {"listeners:\n  pub: 80", "test.yaml:2: listeners.pub: expected a mapping"},
        {"\n\nlisteners:\n  pub:\n    bind: x",
         "test.yaml:4: listeners.pub.port: required key missing"},
        {"port: 1\nport: 2", "test.yaml:2: port: duplicate key"},
        {"name: ${SB_TEST_UNSET}",
         "test.yaml:1: name: environment variable SB_TEST_UNSET is not set"},
    };
    unsetenv("SB_TEST_UNSET");
    for (const auto& [yaml, message] : cases) {
        EXPECT_EQ(firstError(yaml), message) << yaml;
        EXPECT_EQ(check(yaml).size(), 1u) << yaml;
    }
}

TEST(ConfigTest, ErrorOnValueLine) {
    EXPECT_EQ(check("tls:\n  cert: a\n\nport:\n  - 1\n"),
              Strings{"test.yaml:5: port: expected an integer"});
}

TEST(ConfigTest, AllErrorsReported) {
    Strings errors = check(
        "port: high\n"
        "extra: 1\n"
        "tls:\n"
        "  handshake: soon\n"
        "  more: 2\n"
        "listeners:\n"
        "  a: {port: 99999}\n"
        "  b: {}\n");
    EXPECT_EQ(errors, (Strings{
                          "test.yaml:1: port: expected an integer",
                          "test.yaml:2: extra: unknown key",
                          "test.yaml:4: tls.handshake: expected a duration like 90s",
                          "test.yaml:5: tls.more: unknown key",
                          "test.yaml:7: listeners.a.port: must be between 0 and 65535",
                          "test.yaml:8: listeners.b.port: required key missing",
                      }));
}

TEST(ConfigTest, NullMeansEmptyForCollections) {
    ConfigSection config = load("scripts:\ncredentials:\ntls:\nlisteners:\n");
    EXPECT_EQ(config.getStringList("scripts"), Strings{});
    EXPECT_TRUE(config.getStringMap("credentials").empty());
    EXPECT_EQ(config.getString("tls.cert"), "cert.pem");
    EXPECT_TRUE(config.isSet("tls"));
    EXPECT_EQ(config.sectionNames("listeners"), Strings{});
}

TEST(ConfigTest, RequiredFields) {
    ConfigSchema schema;
    schema.string("token", "", "Token").required();
    schema.section("db", "Database").string("url", "", "URL").required();
    schema.required();
    EXPECT_EQ(
        check("# comment\nother: 1\n", schema),
        (Strings{"test.yaml:2: other: unknown key", "test.yaml:2: token: required key missing",
                 "test.yaml:2: db: required key missing"}));
    EXPECT_EQ(
        check("token: t\ndb:\n  x: 1\n", schema),
        (Strings{"test.yaml:3: db.x: unknown key", "test.yaml:2: db.url: required key missing"}));
    EXPECT_EQ(check("token: ''\ndb: {url: u}\n", schema), Strings{});
}

TEST(ConfigTest, EnvironmentExpansion) {
    setenv("SB_TEST_PORT", "9100", 1);
    setenv("SB_TEST_NAME", "node1", 1);
    setenv("SB_TEST_EMPTY", "", 1);
    unsetenv("SB_TEST_UNSET");
    unsetenv("SB_TEST_UNSET2");
    ConfigSection config = load(
        "port: ${SB_TEST_PORT:-8000}\n"
        "name: \"x-${SB_TEST_NAME}-${SB_TEST_UNSET:-dflt}-${SB_TEST_EMPTY:-e}-$${HOME} $5 $\"\n"
        "level: ${SB_TEST_UNSET:-}warning\n"
        "scripts: [\"${SB_TEST_NAME}.lua\"]\n"
        "credentials: {admin: \"${SB_TEST_NAME}\"}\n");
    EXPECT_EQ(config.getInt("port"), 9100);
    EXPECT_EQ(config.getString("name"), "x-node1-dflt-e-${HOME} $5 $");
    EXPECT_EQ(config.getString("level"), "warning");
    EXPECT_EQ(config.getStringList("scripts"), Strings{"node1.lua"});
    EXPECT_EQ(config.getStringMap("credentials").at(0).second, "node1");
    EXPECT_EQ(load("name: ${SB_TEST_EMPTY}").getString("name"), "");
    EXPECT_EQ(load("port: ${SB_TEST_UNSET:-8001}").getInt("port"), 8001);
    EXPECT_EQ(check("name: ${SB_TEST_UNSET}${SB_TEST_UNSET2}\nscripts: [\"${SB_TEST_UNSET}\"]"),
              (Strings{"test.yaml:1: name: environment variable SB_TEST_UNSET is not set",
                       "test.yaml:1: name: environment variable SB_TEST_UNSET2 is not set",
                       "test.yaml:2: scripts: environment variable SB_TEST_UNSET is not set"}));
    setenv("SB_TEST_PORT", "nope", 1);
    EXPECT_EQ(check("port: ${SB_TEST_PORT}"), Strings{"test.yaml:1: port: expected an integer"});
    unsetenv("SB_TEST_PORT");
    unsetenv("SB_TEST_NAME");
    unsetenv("SB_TEST_EMPTY");
}

TEST(ConfigTest, SectionMapInFileOrder) {
    ConfigSection config = load(
        "listeners:\n"
        "  public: {port: 8000}\n"
        "  admin:\n"
        "    bind: 127.0.0.1\n"
        "    port: 9000\n"
        "  chat: {port: 7777}\n");
    EXPECT_EQ(config.sectionNames("listeners"), (Strings{"public", "admin", "chat"}));
    ConfigSection admin = config.section("listeners.admin");
    EXPECT_EQ(admin.path(), "listeners.admin");
    EXPECT_EQ(admin.location(), "test.yaml:3");
    EXPECT_EQ(admin.getString("bind"), "127.0.0.1");
    EXPECT_EQ(admin.getInt("port"), 9000);
    EXPECT_EQ(config.getInt("listeners.chat.port"), 7777);
    EXPECT_EQ(config.getString("listeners.public.bind"), "0.0.0.0");
    EXPECT_TRUE(config.isSet("listeners.public"));
    EXPECT_EQ(config.location("listeners.admin.port"), "test.yaml:5");
    EXPECT_EQ(admin.error("port", "already in use").what(),
              std::string("test.yaml:5: listeners.admin.port: already in use"));
    EXPECT_EQ(admin.error("", "clashes with public").what(),
              std::string("test.yaml:3: listeners.admin: clashes with public"));
    EXPECT_EQ(config.error("tls.cert", "missing file").what(),
              std::string("test.yaml: tls.cert: missing file"));
}

TEST(ConfigTest, GetterTypeErrors) {
    ConfigSection config = load("listeners: {a: {port: 1}}");
    auto message = [](auto&& call) {
        try {
            call();
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("<no error>");
    };
    EXPECT_EQ(message([&] { config.getInt("name"); }), "name: not declared as integer");
    EXPECT_EQ(message([&] { config.getString("nope"); }), "nope: not declared as string");
    EXPECT_EQ(message([&] { config.getBool("tls.cert"); }), "tls.cert: not declared as boolean");
    EXPECT_EQ(message([&] { config.section("listeners"); }), "listeners: not declared as section");
    EXPECT_EQ(message([&] { config.section("tls").getSize("cert"); }),
              "tls.cert: not declared as size");
    EXPECT_EQ(message([&] { config.section("listeners.a").getDuration("port"); }),
              "listeners.a.port: not declared as duration");
    EXPECT_EQ(message([&] { config.section("listeners.b"); }),
              "listeners.b: not declared as section");
    EXPECT_EQ(message([&] { config.getStringList("port.x"); }),
              "port.x: not declared as string list");
}

TEST(ConfigTest, Fingerprint) {
    std::string base = load("").fingerprint();
    EXPECT_EQ(
        load("port: 8000\ntimeout: 1m30s\nmax_body: 4096KiB\ntls: {cert: cert.pem}").fingerprint(),
        base);
    EXPECT_EQ(load("debug: off\nlevel: information").fingerprint(), base);
    EXPECT_NE(load("port: 8001").fingerprint(), base);
    EXPECT_NE(load("tls: {cert: other.pem}").fingerprint(), base);
    EXPECT_NE(load("scripts: [a]").fingerprint(), base);
    EXPECT_NE(load("plugins: {auth: {}}").fingerprint(), base);
    EXPECT_NE(load("listeners: {a: {port: 1}}").fingerprint(), base);
    EXPECT_EQ(load("listeners: {a: {port: 1}}").fingerprint(),
              load("listeners:\n  a:\n    port: 1\n    bind: 0.0.0.0\n").fingerprint());
    EXPECT_NE(load("listeners: {a: {port: 1}, b: {port: 2}}").fingerprint(),
              load("listeners: {a: {port: 2}, b: {port: 1}}").fingerprint());
    EXPECT_NE(load("scripts: [\"a,b\"]").fingerprint(), load("scripts: [a, b]").fingerprint());
}

TEST(ConfigTest, Markdown) {
    EXPECT_EQ(testSchema().markdown("server"),
              "| `server.name` | string | `switchboard` | Server name |\n"
              "| `server.port` | integer 1..65535 | `8000` | TCP port |\n"
              "| `server.ratio` | number | `0.5` | Share of something |\n"
              "| `server.debug` | boolean | `false` | Debug mode |\n"
              "| `server.timeout` | duration | `90s` | Idle timeout |\n"
              "| `server.max_body` | size | `4MiB` | Request body cap |\n"
              "| `server.level` | one of: debug, information, warning | `information` | "
              "Log level |\n"
              "| `server.scripts` | string list |  | Lua scripts |\n"
              "| `server.credentials` | string map |  | User \\| password pairs |\n"
              "| `server.plugins` | any |  | Plugin blocks |\n"
              "| `server.tls` | section |  | TLS |\n"
              "| `server.tls.cert` | string | `cert.pem` | Certificate |\n"
              "| `server.tls.handshake` | duration | `5s` | Handshake timeout |\n"
              "| `server.listeners` | section map |  | Named listeners |\n"
              "| `server.listeners.<name>.bind` | string | `0.0.0.0` | Address |\n"
              "| `server.listeners.<name>.port` | integer 0..65535 | required | Port |\n");
    ConfigSchema root;
    root.string("token", "", "Admin token");
    EXPECT_EQ(root.markdown(""), "| `token` | string | `\"\"` | Admin token |\n");
}

TEST(ConfigTest, SchemaRejectsBadDefaults) {
    ConfigSchema schema;
    EXPECT_THROW(schema.duration("a", "90", "x"), std::logic_error);
    EXPECT_THROW(schema.size("b", "4 megs", "x"), std::logic_error);
    EXPECT_THROW(schema.integer("c", 0, 1, 10, "x"), std::logic_error);
    EXPECT_THROW(schema.choice("d", "e", {"f", "g"}, "x"), std::logic_error);
    EXPECT_THROW(schema.string("bad.name", "", "x"), std::logic_error);
    schema.string("e", "", "x");
    EXPECT_THROW(schema.string("e", "", "again"), std::logic_error);
    EXPECT_THROW(ConfigSchema().required(), std::logic_error);
    EXPECT_EQ(schema.fields().size(), 1u);
    EXPECT_NE(schema.find("e"), nullptr);
    EXPECT_EQ(schema.find("a"), nullptr);
}

/// One bounded field of each kind that takes bounds after its declaration.
ConfigSchema boundedSchema() {
    ConfigSchema schema;
    schema.duration("interval", "5s", "Check period")
        .atLeast("1ms")
        .duration("grace", "30s", "Grace")
        .atMost("1m")
        .size("memory", "19MiB", "Memory per hash")
        .between("8KiB", "4GiB")
        .size("chunk", "1KiB", "Chunk")
        .atLeast("1B")
        .number("ratio", 0.5, "Share")
        .between("0", "1")
        .number("factor", 2, "Factor")
        .atLeast("1.5");
    return schema;
}

TEST(ConfigTest, BoundsAcceptTheirEdges) {
    ConfigSection config =
        load("interval: 1ms\ngrace: 1m\nmemory: 8KiB\nchunk: 1\nratio: 0\nfactor: 1.5\n",
             boundedSchema());
    EXPECT_EQ(config.getDuration("interval"), std::chrono::milliseconds(1));
    EXPECT_EQ(config.getDuration("grace"), std::chrono::minutes(1));
    EXPECT_EQ(config.getSize("memory"), 8192u);
    EXPECT_EQ(config.getSize("chunk"), 1u);
    EXPECT_EQ(config.getNumber("ratio"), 0.0);
    EXPECT_EQ(config.getNumber("factor"), 1.5);
    ConfigSection upper = load("memory: 4096MiB\nratio: 1\ngrace: 0\n", boundedSchema());
    EXPECT_EQ(upper.getSize("memory"), std::uint64_t{4} << 30);
    EXPECT_EQ(upper.getNumber("ratio"), 1.0);
    EXPECT_EQ(upper.getDuration("grace"), std::chrono::milliseconds(0));
}

TEST(ConfigTest, BoundsReportValuesJustPastThemInTheFieldsUnits) {
    EXPECT_EQ(check("interval: 0s\n"
                    "grace: 1m1ms\n"
                    "memory: 8191\n"
                    "chunk: 0\n"
                    "ratio: 1.0000001\n"
                    "factor: 1.4999\n",
                    boundedSchema()),
              (Strings{
                  "test.yaml:1: interval: must be at least 1ms",
                  "test.yaml:2: grace: must be at most 1m",
                  "test.yaml:3: memory: must be between 8KiB and 4GiB",
                  "test.yaml:4: chunk: must be at least 1B",
                  "test.yaml:5: ratio: must be between 0 and 1",
                  "test.yaml:6: factor: must be at least 1.5",
              }));
    EXPECT_EQ(check("memory: 4097MiB\nratio: -0.1\n", boundedSchema()),
              (Strings{"test.yaml:1: memory: must be between 8KiB and 4GiB",
                       "test.yaml:2: ratio: must be between 0 and 1"}));
    // A value of the wrong shape still says what is expected, not the bounds.
    EXPECT_EQ(check("interval: soon\n", boundedSchema()),
              Strings{"test.yaml:1: interval: expected a duration like 90s"});
    // An out-of-bounds value falls back to the default, like any invalid value.
    Strings errors;
    ConfigSection section = ConfigDocument::loadString("interval: 0\n", "test.yaml")
                                .validate("", boundedSchema(), errors);
    EXPECT_EQ(section.getDuration("interval"), std::chrono::seconds(5));
    // Integer bounds read the same way.
    ConfigSchema integers;
    integers.integer("low", 5, 1, INT64_MAX, "x").integer("high", 5, INT64_MIN, 10, "x");
    EXPECT_EQ(
        check("low: 0\nhigh: 11\n", integers),
        (Strings{"test.yaml:1: low: must be at least 1", "test.yaml:2: high: must be at most 10"}));
}

TEST(ConfigTest, BoundsCheckedWhenDeclared) {
    // The logic_error message; a rejected bound leaves the field as it was.
    auto problem = [](auto&& declare) {
        ConfigSchema schema;
        try {
            declare(schema);
        } catch (const std::logic_error& e) {
            EXPECT_TRUE(schema.fields().empty() || schema.fields().back().minText.empty());
            return std::string(e.what());
        }
        return std::string("<no error>");
    };
    EXPECT_EQ(problem([](ConfigSchema& s) { s.duration("a", "0s", "x").atLeast("1ms"); }),
              "config schema: default \"0s\" of a: must be at least 1ms");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.size("b", "2KiB", "x").between("8KiB", "4GiB"); }),
              "config schema: default \"2KiB\" of b: must be between 8KiB and 4GiB");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.number("c", 2, "x").atMost("1"); }),
              "config schema: default \"2\" of c: must be at most 1");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.duration("d", "5s", "x").atLeast("5"); }),
              "config schema: d: bound \"5\": expected a duration like 90s");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.size("e", "5", "x").between("4GiB", "8KiB"); }),
              "config schema: e: minimum 4GiB is above maximum 8KiB");
    EXPECT_EQ(
        problem([](ConfigSchema& s) { s.duration("f", "5s", "x").atMost("10s").atLeast("20s"); }),
        "config schema: f: minimum 20s is above maximum 10s");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.integer("g", 5, 1, 10, "x").atLeast("2"); }),
              "config schema: g: atLeast() needs a number, duration or size field (integer "
              "bounds are given when declared)");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.string("h", "", "x").atMost("1"); }),
              "config schema: h: atMost() needs a number, duration or size field (string "
              "bounds are given when declared)");
    EXPECT_EQ(problem([](ConfigSchema& s) { s.between("1", "2"); }),
              "config schema: between() before any field");
    // A required field has no default to check; atLeast and atMost combine.
    EXPECT_EQ(problem([](ConfigSchema& s) {
                  s.duration("i", "5s", "x").required().atLeast("1m").atMost("1h");
              }),
              "<no error>");
    ConfigSchema schema;
    schema.duration("i", "5s", "x").atLeast("1s").atMost("1h");
    EXPECT_EQ(schema.fields().back().minText, "1s");
    EXPECT_EQ(schema.fields().back().maxText, "1h");
}

TEST(ConfigTest, BoundsInTheReference) {
    EXPECT_EQ(boundedSchema().markdown(""),
              "| `interval` | duration at least 1ms | `5s` | Check period |\n"
              "| `grace` | duration at most 1m | `30s` | Grace |\n"
              "| `memory` | size 8KiB..4GiB | `19MiB` | Memory per hash |\n"
              "| `chunk` | size at least 1B | `1KiB` | Chunk |\n"
              "| `ratio` | number 0..1 | `0.5` | Share |\n"
              "| `factor` | number at least 1.5 | `2` | Factor |\n");
    ConfigSchema integers;
    integers.integer("low", 5, 1, INT64_MAX, "x").integer("any", 5, INT64_MIN, INT64_MAX, "y");
    EXPECT_EQ(integers.markdown(""),
              "| `low` | integer at least 1 | `5` | x |\n| `any` | integer | `5` | y |\n");
}

TEST(ConfigTest, ConfigErrorCarriesSeveralProblems) {
    ConfigSection config = load("port: 9000\ntls: {cert: c.pem}\n");
    ConfigError one = config.error("port", "in use");
    EXPECT_EQ(one.messages(), Strings{"test.yaml:1: port: in use"});
    ConfigError both({one, config.error("tls.cert", "unreadable")});
    EXPECT_EQ(both.messages(),
              (Strings{"test.yaml:1: port: in use", "test.yaml:2: tls.cert: unreadable"}));
    EXPECT_EQ(std::string(both.what()),
              "test.yaml:1: port: in use\ntest.yaml:2: tls.cert: unreadable");
    ConfigError nested({both, ConfigError("elsewhere: wrong")});
    EXPECT_EQ(nested.messages().size(), 3u);
    EXPECT_EQ(nested.messages().back(), "elsewhere: wrong");
    ConfigError copy = nested;
    EXPECT_EQ(copy.messages(), nested.messages());
    EXPECT_THROW(ConfigError(std::vector<ConfigError>{}), std::logic_error);
}

TEST(ConfigTest, PathsInsideTheDocument) {
    ConfigSchema pairing;
    pairing.string("listener", "pairing", "Listener").duration("offline_after", "90s", "Offline");
    ConfigDocument doc = ConfigDocument::loadString(
        "server: {}\n"
        "plugins:\n"
        "  pairing:\n"
        "    offline_after: 90\n"
        "  auth:\n"
        "  devices: {}\n",
        "etc/switchboard.yaml");
    EXPECT_EQ(doc.fileName(), "etc/switchboard.yaml");
    EXPECT_EQ(doc.keys(""), (Strings{"server", "plugins"}));
    EXPECT_EQ(doc.keys("plugins"), (Strings{"pairing", "auth", "devices"}));
    EXPECT_EQ(doc.keys("plugins.auth"), Strings{});
    EXPECT_EQ(doc.keys("nothing.here"), Strings{});
    EXPECT_EQ(doc.location("plugins.pairing"), "etc/switchboard.yaml:3");
    EXPECT_EQ(doc.location("plugins.pairing.offline_after"), "etc/switchboard.yaml:4");
    EXPECT_EQ(doc.location("plugins.messaging.x"), "etc/switchboard.yaml:2");

    Strings errors;
    ConfigSection section = doc.validate("plugins.pairing", pairing, errors);
    EXPECT_EQ(errors, Strings{"etc/switchboard.yaml:4: plugins.pairing.offline_after: "
                              "expected a duration like 90s"});
    EXPECT_EQ(section.path(), "plugins.pairing");
    EXPECT_EQ(section.getString("listener"), "pairing");
    EXPECT_EQ(section.getDuration("offline_after"), std::chrono::seconds(90));

    errors.clear();
    ConfigSection absent = doc.validate("plugins.messaging", pairing, errors);
    EXPECT_EQ(errors, Strings{});
    EXPECT_EQ(absent.getString("listener"), "pairing");
    EXPECT_EQ(absent.location(), "etc/switchboard.yaml");
    EXPECT_EQ(doc.validate("plugins.auth", pairing, errors).location(), "etc/switchboard.yaml:5");
    EXPECT_EQ(errors, Strings{});
    EXPECT_EQ(check("- a\n", pairing), Strings{"test.yaml:1: expected a mapping"});
    EXPECT_EQ(check("x: 1\n", pairing, "x"), Strings{"test.yaml:1: x: expected a mapping"});
}

TEST(ConfigTest, LoadFile) {
    test::TempDir dir;
    std::string path = dir.write("sb.yaml", "port: 1234\n");
    Strings errors;
    ConfigSection config = ConfigDocument::loadFile(path).validate("", testSchema(), errors);
    EXPECT_EQ(errors, Strings{});
    EXPECT_EQ(config.getInt("port"), 1234);
    EXPECT_EQ(config.location("port"), path + ":1");
    try {
        ConfigDocument::loadFile(dir.file("missing.yaml"));
        FAIL() << "no exception";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.what(), dir.file("missing.yaml") + ": cannot read: No such file or directory");
    }
    try {
        ConfigDocument::loadFile(dir.path());
        FAIL() << "no exception";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.what(), dir.path() + ": cannot read: Is a directory");
    }
}

TEST(ConfigTest, SyntaxErrorHasLine) {
    try {
        ConfigDocument::loadString("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml");
        FAIL() << "no exception";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "bad.yaml:3: end of sequence flow not found");
    }
    try {
        ConfigDocument::loadString("a: 1\n  b: 2\n", "bad.yaml");
        FAIL() << "no exception";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "bad.yaml:2: illegal map value");
    }
}
