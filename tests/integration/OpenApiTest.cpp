// The OpenAPI documents of a real switchboard with every plugin enabled: every route mounted
// on every HTTP listener (as the route metrics of /metrics name them, one per mounted table
// entry) is documented and in its listener's document; the admin document needs the token;
// the documents follow a reload that disables a plugin.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "TestSupport.h"

namespace switchboard::test {
namespace {

std::map<std::string, std::string> adminAuth() {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

/// Every plugin: pairing on its listener, devices, auth and signaling on public, messaging on
/// a TLS stream listener (whose certificate is generated at start).
std::string allPlugins(bool devices = true) {
    return std::string("  pairing: { listener: pairing }\n") +
           "  devices: { listener: public, enabled: " + (devices ? "true" : "false") + " }\n" +
           "  auth: { listener: public, jwt: { secret: "
           "\"test-jwt-secret-0123456789abcdef0123456789abcdef\" }, password_hash: { memory: "
           "8MiB, passes: 1 } }\n"
           "  signaling: { listener: public }\n"
           "  messaging: { listener: chat }\n";
}

struct Mounted {
    std::string method;
    std::string route;
    bool operator<(const Mounted& o) const {
        return method != o.method ? method < o.method : route < o.route;
    }
};

class OpenApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        state = new State;
        state->yaml = config(true);
        state->process = std::make_unique<ServerProcess>(state->dir, state->yaml);
        state->ready = state->process->waitReady(state->ports.admin);
    }
    static void TearDownTestSuite() {
        delete state;
        state = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(state->ready) << state->process->log(); }

    static std::string config(bool devices) {
        std::string yaml = configYaml(state->dir, state->ports, allPlugins(devices));
        yaml.insert(yaml.find("admin: { token"),
                    "  chat: { bind: 127.0.0.1, port: " + std::to_string(state->ports.chat) +
                        ", protocol: stream, tls: { cert: var/tls/cert.pem, key: "
                        "var/tls/key.pem } }\n");
        return yaml;
    }

    /// The routes each HTTP listener has mounted, from the route metrics (every mounted entry
    /// has one from its first mount on).
    static std::map<std::string, std::set<Mounted>> mounted() {
        HttpResult metrics = http("GET", state->ports.admin, "/metrics", "", adminAuth());
        EXPECT_EQ(metrics.status, 200);
        std::map<std::string, std::set<Mounted>> out;
        std::regex line(
            "switchboard_http_request_duration_seconds_count\\{listener=\"([^\"]+)\","
            "method=\"([^\"]+)\",route=\"([^\"]+)\"\\}");
        for (std::sregex_iterator it(metrics.body.begin(), metrics.body.end(), line), end;
             it != end; ++it) {
            out[(*it)[1]].insert({(*it)[2], (*it)[3]});
        }
        return out;
    }

    static int port(const std::string& listener) {
        if (listener == "public") {
            return state->ports.pub;
        }
        return listener == "pairing" ? state->ports.pairing : state->ports.admin;
    }

    /// The document of `listener`, parsed.
    static rapidjson::Document document(const std::string& listener) {
        HttpResult r = listener == "admin"
                           ? http("GET", state->ports.admin, "/admin/openapi.json", "", adminAuth())
                           : http("GET", port(listener), "/openapi.json");
        EXPECT_EQ(r.status, 200) << listener << ": " << r.body;
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        EXPECT_TRUE(d.IsObject()) << listener << ": " << r.body.substr(0, 200);
        return d;
    }

    struct State {
        TempDir dir;
        Ports ports;
        std::string yaml;
        std::unique_ptr<ServerProcess> process;
        bool ready = false;
    };
    static State* state;
};

OpenApiTest::State* OpenApiTest::state = nullptr;

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

TEST_F(OpenApiTest, EveryMountedRouteIsDocumentedInItsListenersDocument) {
    auto tables = mounted();
    ASSERT_EQ(tables.size(), 3u) << "public, pairing and admin";
    // Every plugin has routes in the tables (the chat listener is a stream listener).
    EXPECT_TRUE(tables["public"].count({"POST", "/api/devices/{key}/register"}));
    EXPECT_TRUE(tables["public"].count({"POST", "/login"}));
    EXPECT_TRUE(tables["public"].count({"GET", "/ws"}));
    EXPECT_TRUE(tables["pairing"].count({"POST", "/register_server"}));
    EXPECT_TRUE(tables["admin"].count({"GET", "/admin/api/messaging/connections"}));
    EXPECT_TRUE(tables["admin"].count({"GET", "/admin/openapi.json"}));
    for (const auto& [listener, routes] : tables) {
        rapidjson::Document d = document(listener);
        ASSERT_TRUE(d.IsObject());
        EXPECT_STREQ(d["openapi"].GetString(), "3.1.0");
        EXPECT_EQ(std::string(d["info"]["title"].GetString()), "Switchboard: listener " + listener);
        const auto& paths = d["paths"];
        std::size_t operations = 0;
        for (const auto& path : paths.GetObject()) {
            operations += path.value.MemberCount();
        }
        EXPECT_EQ(operations, routes.size()) << listener << ": the document lists what is mounted";
        for (const auto& [method, route] : routes) {
            std::string where = listener + ": " + method + " " + route;
            if (!paths.HasMember(route.c_str()) ||
                !paths[route.c_str()].HasMember(lower(method).c_str())) {
                ADD_FAILURE() << where << " is mounted but missing from the document";
                continue;
            }
            const auto& op = paths[route.c_str()][lower(method).c_str()];
            std::string summary = op["summary"].GetString();
            EXPECT_NE(summary, "undocumented") << where << " has no RouteDoc summary";
            EXPECT_FALSE(summary.empty()) << where;
            ASSERT_TRUE(op["responses"].IsObject()) << where;
            EXPECT_FALSE(op["responses"].HasMember("default")) << where << " declares no answer";
            bool success = false;
            for (const auto& answer : op["responses"].GetObject()) {
                int status = std::stoi(answer.name.GetString());
                success = success || (status >= 100 && status < 400);
                EXPECT_TRUE(answer.value["description"].IsString()) << where;
            }
            EXPECT_TRUE(success) << where << " declares no successful answer";
            // Each {name} of the path is a documented path parameter.
            std::set<std::string> declared;
            if (op.HasMember("parameters")) {
                for (const auto& p : op["parameters"].GetArray()) {
                    if (std::string(p["in"].GetString()) == "path") {
                        declared.insert(p["name"].GetString());
                    }
                }
            }
            std::regex param("\\{([^}]+)\\}");
            for (std::sregex_iterator it(route.begin(), route.end(), param), end; it != end; ++it) {
                EXPECT_TRUE(declared.count((*it)[1])) << where << ": {" << (*it)[1] << "}";
            }
        }
    }
}

TEST_F(OpenApiTest, DocumentsDescribeBodiesAnswersAndCredentials) {
    rapidjson::Document admin = document("admin");
    ASSERT_TRUE(admin.IsObject());
    const auto& create = admin["paths"]["/admin/api/devices"]["post"];
    EXPECT_STREQ(create["tags"][0].GetString(), "devices");
    EXPECT_STREQ(create["requestBody"]["content"]["application/json"]["schema"]["properties"]
                       ["device_key"]["type"]
                           .GetString(),
                 "string");
    EXPECT_FALSE(create["requestBody"]["required"].GetBool());  // the body is optional
    EXPECT_TRUE(create["responses"].HasMember("201"));
    EXPECT_TRUE(create["responses"].HasMember("409"));
    // What the host adds: the guard's answers, the restarting plugin's 503, the credentials.
    EXPECT_TRUE(create["responses"].HasMember("401"));
    EXPECT_TRUE(create["responses"].HasMember("429"));
    EXPECT_NE(std::string(create["responses"]["503"]["description"].GetString()).find("restarting"),
              std::string::npos);
    EXPECT_STREQ(create["security"][0].MemberBegin()->name.GetString(), "adminToken");
    EXPECT_STREQ(admin["components"]["securitySchemes"]["adminToken"]["scheme"].GetString(),
                 "bearer");
    // A paged list: limit, offset and q, and the page's shape.
    const auto& list = admin["paths"]["/admin/api/devices"]["get"];
    std::set<std::string> query;
    for (const auto& p : list["parameters"].GetArray()) {
        query.insert(p["name"].GetString());
    }
    EXPECT_EQ(query, (std::set<std::string>{"limit", "offset", "q"}));
    const auto& page = list["responses"]["200"]["content"]["application/json"]["schema"];
    EXPECT_STREQ(page["properties"]["items"]["type"].GetString(), "array");
    EXPECT_STREQ(page["properties"]["total"]["type"].GetString(), "integer");
    // The login is the one admin route without the admin credential.
    EXPECT_FALSE(admin["paths"]["/admin/api/session"]["post"].HasMember("security"));

    rapidjson::Document pub = document("public");
    ASSERT_TRUE(pub.IsObject());
    EXPECT_FALSE(pub["paths"].HasMember("/admin/api/devices"));
    EXPECT_TRUE(pub["paths"].HasMember("/healthz"));
    EXPECT_TRUE(pub["paths"]["/ws"]["get"]["responses"].HasMember("101"));
    EXPECT_STREQ(pub["paths"]["/api/ssh-hostkey"]["get"]["responses"]["200"]["content"]
                     .MemberBegin()
                     ->name.GetString(),
                 "text/plain");
    EXPECT_STREQ(pub["components"]["securitySchemes"]["sessionCookie"]["in"].GetString(), "cookie");
}

/// Runs `command` and returns its exit code and output (stdout and stderr).
std::pair<int, std::string> run(const std::string& command) {
    std::string output;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        return {-1, "cannot run " + command};
    }
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) {
        output.append(buffer, n);
    }
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST_F(OpenApiTest, DocumentsPassARealOpenApiValidator) {
    // @seriousme/openapi-schema-validator, pinned in web/apidocs/package-lock.json and
    // installed by scripts/setup (npm ci).
    std::string tool = std::string(SB_SOURCE_DIR) + "/web/apidocs";
    ASSERT_EQ(run("test -d " + tool + "/node_modules/@seriousme/openapi-schema-validator").first, 0)
        << "the validator is not installed: run scripts/setup";
    std::string files;
    for (const std::string listener : {"public", "pairing", "admin"}) {
        HttpResult r = listener == "admin"
                           ? http("GET", state->ports.admin, "/admin/openapi.json", "", adminAuth())
                           : http("GET", port(listener), "/openapi.json");
        ASSERT_EQ(r.status, 200);
        files += " " + state->dir.write("openapi-" + listener + ".json", r.body);
    }
    auto [code, output] = run("node " + tool + "/validate.mjs" + files);
    EXPECT_EQ(code, 0) << output;
    for (const std::string listener : {"public", "pairing", "admin"}) {
        EXPECT_NE(output.find("openapi-" + listener + ".json: valid OpenAPI 3.1"),
                  std::string::npos)
            << output;
    }
    // The validator does fail a broken document (an operation without responses).
    std::string broken =
        state->dir.write("broken.json",
                         "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"x\",\"version\":\"1\"},"
                         "\"paths\":{\"/a\":{\"get\":{\"responses\":{\"200\":{}}}}}}");
    auto [brokenCode, brokenOutput] = run("node " + tool + "/validate.mjs " + broken);
    EXPECT_EQ(brokenCode, 1) << brokenOutput;
    EXPECT_NE(brokenOutput.find("INVALID"), std::string::npos) << brokenOutput;
}

TEST_F(OpenApiTest, TheAdminDocumentNeedsTheTokenAndLivesOnlyOnTheAdminListener) {
    HttpResult anonymous = http("GET", state->ports.admin, "/admin/openapi.json");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.body, "{\"error\":\"admin token required\"}");
    EXPECT_EQ(http("GET", state->ports.admin, "/openapi.json", "", adminAuth()).status, 404);
    EXPECT_EQ(http("GET", state->ports.pub, "/admin/openapi.json").status, 404);
    HttpResult pub = http("GET", state->ports.pub, "/openapi.json");
    EXPECT_EQ(pub.header("Content-Type").rfind("application/json", 0), 0u);
}

std::string sourceFile(const std::string& path) {
    std::ifstream in(std::string(SB_SOURCE_DIR) + "/" + path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(OpenApiTest, DocsAndRedocServeTheBuiltInPackagesWithoutInlineScript) {
    struct Where {
        std::string prefix;
        int port;
        std::map<std::string, std::string> auth;
    };
    std::string bundle =
        sourceFile("web/apidocs/node_modules/swagger-ui-dist/swagger-ui-bundle.js");
    std::string redoc = sourceFile("web/apidocs/node_modules/redoc/bundles/redoc.standalone.js");
    ASSERT_GT(bundle.size(), 100000u) << "run scripts/setup";
    ASSERT_GT(redoc.size(), 100000u);
    std::regex inlineScript("<script(?![^>]*\\bsrc=)");
    for (const Where& w : {Where{"", state->ports.pub, {}}, Where{"", state->ports.pairing, {}},
                           Where{"/admin", state->ports.admin, adminAuth()}}) {
        std::string document = w.prefix + "/openapi.json";
        for (const std::string page : {"/docs", "/redoc"}) {
            HttpResult r = http("GET", w.port, w.prefix + page, "", w.auth);
            ASSERT_EQ(r.status, 200) << w.prefix + page;
            EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
            std::string policy = r.header("Content-Security-Policy");
            EXPECT_NE(policy.find("script-src 'self';"), std::string::npos) << policy;
            EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
            EXPECT_NE(r.body.find("data-url=\"" + document + "\""), std::string::npos) << r.body;
            EXPECT_FALSE(std::regex_search(r.body, inlineScript)) << r.body;
        }
        HttpResult js = http("GET", w.port, w.prefix + "/docs/swagger-ui-bundle.js", "", w.auth);
        EXPECT_EQ(js.status, 200);
        EXPECT_EQ(js.header("Content-Type"), "application/javascript; charset=utf-8");
        EXPECT_TRUE(js.body == bundle) << "the swagger-ui-dist file, byte for byte";
        HttpResult css = http("GET", w.port, w.prefix + "/docs/swagger-ui.css", "", w.auth);
        EXPECT_EQ(css.header("Content-Type"), "text/css; charset=utf-8");
        EXPECT_TRUE(css.body ==
                    sourceFile("web/apidocs/node_modules/swagger-ui-dist/swagger-ui.css"));
        HttpResult standalone =
            http("GET", w.port, w.prefix + "/redoc/redoc.standalone.js", "", w.auth);
        EXPECT_TRUE(standalone.body == redoc) << "the redoc bundle, byte for byte";
        EXPECT_EQ(http("GET", w.port, w.prefix + "/redoc/redoc-init.js", "", w.auth).body,
                  sourceFile("web/apidocs/redoc-init.js"));
        EXPECT_EQ(http("GET", w.port, w.prefix + "/docs/swagger-init.js", "", w.auth).body,
                  sourceFile("web/apidocs/swagger-init.js"));
    }
    // On the admin listener the pages are admin routes like the document they show.
    EXPECT_EQ(http("GET", state->ports.admin, "/admin/docs").status, 401);
    EXPECT_EQ(http("GET", state->ports.admin, "/admin/redoc/redoc.standalone.js").status, 401);
    EXPECT_EQ(http("GET", state->ports.admin, "/docs", "", adminAuth()).status, 404);
}

TEST_F(OpenApiTest, DocumentsFollowAReloadThatDisablesAPlugin) {
    state->dir.write("switchboard.yaml", config(false));
    ASSERT_EQ(http("POST", state->ports.admin, "/admin/api/reload", "", adminAuth()).status, 200);
    rapidjson::Document pub = document("public");
    rapidjson::Document admin = document("admin");
    ASSERT_TRUE(pub.IsObject() && admin.IsObject());
    EXPECT_FALSE(pub["paths"].HasMember("/api/devices/{key}/register"));
    EXPECT_FALSE(admin["paths"].HasMember("/admin/api/devices"));
    EXPECT_TRUE(pub["paths"].HasMember("/login"));  // the others stay
    EXPECT_TRUE(admin["paths"].HasMember("/admin/api/auth/users"));

    state->dir.write("switchboard.yaml", config(true));
    ASSERT_EQ(http("POST", state->ports.admin, "/admin/api/reload", "", adminAuth()).status, 200);
    EXPECT_TRUE(document("public")["paths"].HasMember("/api/devices/{key}/register"));
    EXPECT_TRUE(document("admin")["paths"].HasMember("/admin/api/devices"));
}

}  // namespace
}  // namespace switchboard::test
