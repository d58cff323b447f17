// The access log (server.access_log: text and JSON lines, reopened on SIGHUP for logrotate) and
// runtime log levels through the admin API (/admin/api/log-levels), against the real binary.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <Poco/File.h>

#include <regex>
#include <sstream>

#include "TestSupport.h"

using namespace switchboard::test;

namespace {

const std::map<std::string, std::string> kAdmin = {
    {"Authorization", std::string("Bearer ") + kAdminToken}};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

/// Waits until `file` has at least `n` lines and returns them.
std::vector<std::string> waitForLines(const std::string& file, std::size_t n) {
    eventually([&] { return lines(readFile(file)).size() >= n; });
    return lines(readFile(file));
}

std::string accessLogConfig(const TempDir& dir, const Ports& ports, const std::string& format) {
    return withServerKeys(
        configYaml(dir, ports, "  pairing: { listener: pairing }\n"),
        "  access_log: { file: " + dir.file("access.log") + ", format: " + format + " }\n");
}

}  // namespace

TEST(AccessLogTest, TextLinesNameListenerClientMethodPathStatusBytesAndDuration) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, accessLogConfig(dir, ports, "text"));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    std::string logFile = dir.file("access.log");
    // The readiness probes come first; the last of them answered 200.
    ASSERT_TRUE(eventually([&] {
        auto probes = lines(readFile(logFile));
        return !probes.empty() && probes.back().find(" GET /readyz 200 ") != std::string::npos;
    }));
    std::size_t before = lines(readFile(logFile)).size();

    HttpResult ok = http("POST", ports.pairing, "/get_server_details", "{\"pairing_code\":1234}");
    ASSERT_EQ(ok.status, 404);
    HttpResult missing = http("GET", ports.pub, "/no%20such\"path?token=secret");
    ASSERT_EQ(missing.status, 404);
    auto all = waitForLines(logFile, before + 2);
    ASSERT_EQ(all.size(), before + 2) << readFile(logFile);
    std::regex text(
        "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (\\S+) (\\S+) (\\S+) (\\S+) (\\d{3}) "
        "(\\d+) (\\d+\\.\\d{3})ms");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(all[before], m, text)) << all[before];
    EXPECT_EQ(m[1], "pairing");
    EXPECT_EQ(m[2], "127.0.0.1");
    EXPECT_EQ(m[3], "POST");
    EXPECT_EQ(m[4], "/get_server_details");
    EXPECT_EQ(m[5], "404");
    EXPECT_GT(std::stoul(m[6]), ok.body.size());  // status line and headers count too
    ASSERT_TRUE(std::regex_match(all[before + 1], m, text)) << all[before + 1];
    EXPECT_EQ(m[1], "public");
    EXPECT_EQ(m[3], "GET");
    // The decoded path, escaped so a line stays one line of fields; never the query (tokens).
    EXPECT_EQ(m[4], "/no%20such%22path");
    EXPECT_EQ(all[before + 1].find("secret"), std::string::npos);

    HttpResult metrics = http("GET", ports.admin, "/metrics", "", kAdmin);
    EXPECT_NE(metrics.body.find("switchboard_access_log_dropped_total 0"), std::string::npos);
    EXPECT_NE(metrics.body.find("switchboard_access_log_lines_total "), std::string::npos);
}

TEST(AccessLogTest, JsonLinesAndReopenOnSighupForLogrotate) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, accessLogConfig(dir, ports, "json"));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    std::string logFile = dir.file("access.log");
    ASSERT_EQ(http("GET", ports.pairing, "/healthz").status, 200);
    auto first = waitForLines(logFile, 2);
    rapidjson::Document doc;
    doc.Parse(first.back().c_str());
    ASSERT_TRUE(doc.IsObject()) << first.back();
    EXPECT_STREQ(doc["listener"].GetString(), "pairing");
    EXPECT_STREQ(doc["method"].GetString(), "GET");
    EXPECT_STREQ(doc["path"].GetString(), "/healthz");
    EXPECT_EQ(doc["status"].GetInt(), 200);
    EXPECT_GT(doc["bytes"].GetInt(), 15);
    EXPECT_TRUE(doc["duration_ms"].IsNumber());
    EXPECT_STREQ(doc["client"].GetString(), "127.0.0.1");
    EXPECT_EQ(std::string(doc["ts"].GetString()).size(), 24u);

    // logrotate: move the file away, SIGHUP, and the next line goes to a new file.
    std::size_t moved = first.size();
    Poco::File(logFile).renameTo(dir.file("access.log.1"));
    server.signal(SIGHUP);
    ASSERT_TRUE(server.waitForLog("configuration reloaded")) << server.log();
    ASSERT_EQ(http("GET", ports.pairing, "/readyz").status, 200);
    auto fresh = waitForLines(logFile, 1);
    ASSERT_FALSE(fresh.empty());
    EXPECT_NE(fresh.back().find("\"path\":\"/readyz\""), std::string::npos) << fresh.back();
    EXPECT_EQ(lines(readFile(dir.file("access.log.1"))).size(), moved);
}

TEST(AccessLogTest, OffByDefaultAndAnUnwritableFileFailsTheStart) {
    TempDir dir;
    Ports ports;
    RunResult r = runSwitchboard(
        {"--config=" +
         dir.write("bad.yaml",
                   withServerKeys(configYaml(dir, ports, "  pairing: { listener: pairing }\n"),
                                  "  access_log: { file: /proc/no/such/access.log }\n"))},
        dir.path());
    EXPECT_EQ(r.exitCode, 78) << r.output;
    EXPECT_NE(r.output.find("server.access_log.file: cannot open /proc/no/such/access.log: "),
              std::string::npos)
        << r.output;
    RunResult format = runSwitchboard(
        {"--check-config",
         "--config=" + dir.write("format.yaml", withServerKeys(configYaml(dir, ports, ""),
                                                               "  access_log: { format: xml }\n"))},
        dir.path());
    EXPECT_NE(format.exitCode, 0);
    EXPECT_NE(format.output.find("server.access_log.format: expected one of: text, json"),
              std::string::npos)
        << format.output;
}

TEST(AccessLogTest, LogLevelsPerPluginChangeAtRuntimeAndSurviveReload) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  pairing: { listener: pairing }\n"));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    const std::string registration =
        "{\"ssh_pubkey\":\"ssh-ed25519 AAAA1\",\"ssh_user\":\"u\",\"ssh_tunnel\":1,"
        "\"listen_pubkey_tunnel\":2}";

    HttpResult listed = http("GET", ports.admin, "/admin/api/log-levels", "", kAdmin);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_NE(listed.body.find("\"configured\":\"information\""), std::string::npos);
    EXPECT_NE(listed.body.find("{\"name\":\"pairing\",\"logger\":\"switchboard.pairing\","
                               "\"level\":\"information\",\"override\":false}"),
              std::string::npos)
        << listed.body;
    EXPECT_NE(listed.body.find("{\"name\":\"host\","), std::string::npos) << listed.body;

    HttpResult set = http("PUT", ports.admin, "/admin/api/log-levels/pairing",
                          "{\"level\":\"warning\"}", kAdmin);
    ASSERT_EQ(set.status, 200) << set.body;
    EXPECT_EQ(set.body,
              "{\"name\":\"pairing\",\"logger\":\"switchboard.pairing\",\"level\":\"warning\","
              "\"override\":true}");
    // The plugin's information lines stop; the host's go on.
    ASSERT_EQ(http("POST", ports.pairing, "/register_server", registration).status, 200);
    ASSERT_EQ(http("POST", ports.admin, "/admin/api/reload", "", kAdmin).status, 200);
    ASSERT_TRUE(server.waitForLog("configuration reloaded"));
    EXPECT_EQ(server.log().find("server registered (user u"), std::string::npos) << server.log();
    HttpResult after = http("GET", ports.admin, "/admin/api/log-levels", "", kAdmin);
    EXPECT_NE(after.body.find("{\"name\":\"pairing\",\"logger\":\"switchboard.pairing\","
                              "\"level\":\"warning\",\"override\":true}"),
              std::string::npos)
        << after.body;

    HttpResult reset = http("DELETE", ports.admin, "/admin/api/log-levels/pairing", "", kAdmin);
    ASSERT_EQ(reset.status, 200) << reset.body;
    EXPECT_NE(reset.body.find("\"level\":\"information\",\"override\":false"), std::string::npos);
    ASSERT_EQ(http("POST", ports.pairing, "/register_server", registration).status, 200);
    EXPECT_TRUE(server.waitForLog("server registered (user u")) << server.log();
}

TEST(AccessLogTest, LogLevelErrors) {
    TempDir dir;
    Ports ports;
    ServerProcess server(dir, configYaml(dir, ports, "  pairing: { listener: pairing }\n"));
    ASSERT_TRUE(server.waitReady(ports.pairing)) << server.log();
    auto put = [&](const std::string& name, const std::string& body,
                   const std::map<std::string, std::string>& headers = kAdmin) {
        return http("PUT", ports.admin, "/admin/api/log-levels/" + name, body, headers);
    };
    HttpResult unknown = put("nobody", "{\"level\":\"debug\"}");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body, "{\"error\":\"no plugin or host logger named 'nobody'\"}");
    EXPECT_EQ(http("DELETE", ports.admin, "/admin/api/log-levels/nobody", "", kAdmin).status, 404);
    HttpResult level = put("pairing", "{\"level\":\"loud\"}");
    EXPECT_EQ(level.status, 400);
    EXPECT_EQ(level.body,
              "{\"error\":\"level must be one of fatal, critical, error, warning, notice, "
              "information, debug, trace\"}");
    HttpResult missing = put("pairing", "{}");
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.body, "{\"error\":\"missing key: level\"}");
    HttpResult type = put("pairing", "{\"level\":7}");
    EXPECT_EQ(type.body, "{\"error\":\"level must be a string\"}");
    HttpResult notJson = put("pairing", "debug");
    EXPECT_EQ(notJson.status, 400);
    EXPECT_EQ(notJson.body, "{\"error\":\"body is not valid JSON\"}");
    HttpResult noToken = put("pairing", "{\"level\":\"debug\"}", {});
    EXPECT_EQ(noToken.status, 401);
    HttpResult host = put("store", "{\"level\":\"debug\"}");
    EXPECT_EQ(host.status, 200) << host.body;
}
