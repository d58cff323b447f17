// Integration tests of the devices plugin over time and across restarts: token expiry, going
// offline and the events, write-behind flushing, durability, rate limiting of token guesses,
// X-Forwarded-For from trusted proxies, the Lua hook, the SSH host key, and config errors.
#include "DevicesTestSupport.h"

#include <Poco/File.h>

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cmath>
#include <future>
#include <iomanip>
#include <sstream>

namespace switchboard::test::devices {
namespace {

// ---------------------------------------------------------------------------------------------
// Tokens: expiry, hashing

TEST(DevicesTokenTest, ExpiredTokenIsRefusedButANewOneWorks) {
    Server server(devicesConfig(", token_ttl: 1s"));
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "exp-1");
    sleepFor(1500ms);
    HttpResult r = registerDevice(server.pub(), "exp-1", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, failJson("Invalid token"));
    HttpResult shown = adminShow(server.admin(), "exp-1");
    EXPECT_NE(shown.body.find("\"token_pending\":false,\"token_expires_at\":null"),
              std::string::npos)
        << shown.body;
    std::string fresh = newToken(server.admin(), "exp-1");
    EXPECT_EQ(registerDevice(server.pub(), "exp-1", fresh).body, registeredJson("exp-1"));
}

std::string sha256Hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    std::ostringstream hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(digest[i]);
    }
    return hex.str();
}

TEST(DevicesTokenTest, TokensAreStoredOnlyAsHashesAndClearedWhenUsed) {
    Server server(devicesConfig());
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "hash-1");
    auto row = storedRow(server.database(), "hash-1");
    // SHA-256 over device key, NUL, upper-case code: never the code itself.
    EXPECT_EQ(row["token_hash"], sha256Hex(std::string("hash-1") + '\0' + token));
    EXPECT_EQ(readFile(server.database()).find(token), std::string::npos);
    ASSERT_EQ(registerDevice(server.pub(), "hash-1", token).status, 200);
    row = storedRow(server.database(), "hash-1");
    EXPECT_EQ(row["token_hash"], "NULL");
    EXPECT_EQ(row["registered"], "1");
}

// ---------------------------------------------------------------------------------------------
// Online / offline and events

TEST(DevicesOnlineTest, SilentDeviceGoesOfflineAndComesBackWithAHeartbeat) {
    Server server(devicesConfig(", offline_after: 1s"));
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "device.*");
    ASSERT_EQ(events.status(), 200);

    std::string token = enrol(server.admin(), "off-1");
    ASSERT_EQ(registerDevice(server.pub(), "off-1", token, R"({"ip_address":"10.0.0.1"})").status,
              200);
    std::string registeredAt = numberText(details(server.pub(), "off-1").body, "registered_at");

    auto registered = events.next("device.registered", "off-1");
    ASSERT_TRUE(registered);
    EXPECT_EQ(registered->data, "{\"device_key\":\"off-1\",\"registered_at\":" + registeredAt +
                                    ",\"ip_address\":\"10.0.0.1\"}");
    auto online = events.next("device.online", "off-1");
    ASSERT_TRUE(online);
    EXPECT_EQ(online->data,
              "{\"device_key\":\"off-1\",\"ip_address\":\"10.0.0.1\","
              "\"last_seen\":" +
                  registeredAt + "}");

    auto offline = events.next("device.offline", "off-1");
    ASSERT_TRUE(offline);
    EXPECT_EQ(offline->data, "{\"device_key\":\"off-1\",\"last_seen\":" + registeredAt + "}");
    HttpResult info = details(server.pub(), "off-1");
    EXPECT_NE(info.body.find("\"online\":false"), std::string::npos) << info.body;
    EXPECT_NE(adminShow(server.admin(), "off-1").body.find("\"online\":false"), std::string::npos);

    // Offline devices may still send heartbeats: the next one brings them back.
    ASSERT_EQ(heartbeat(server.pub(), "off-1", R"({"ip_address":"10.0.0.2"})").status, 200);
    std::string lastSeen = numberText(details(server.pub(), "off-1").body, "last_seen");
    auto back = events.next("device.online", "off-1");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->data,
              "{\"device_key\":\"off-1\",\"ip_address\":\"10.0.0.2\","
              "\"last_seen\":" +
                  lastSeen + "}");
    EXPECT_NE(details(server.pub(), "off-1").body.find("\"online\":true"), std::string::npos);
}

TEST(DevicesOnlineTest, RevokingAnOnlineDevicePublishesRevokedAndOffline) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "device.*");
    ASSERT_TRUE(enrolAndRegister(server, "off-rev"));
    ASSERT_EQ(adminRevoke(server.admin(), "off-rev").status, 200);
    auto revoked = events.next("device.revoked", "off-rev");
    ASSERT_TRUE(revoked);
    EXPECT_EQ(revoked->data, "{\"device_key\":\"off-rev\"}");
    auto offline = events.next("device.offline", "off-rev");
    ASSERT_TRUE(offline);
}

TEST(DevicesOnlineTest, MetricsCountDevicesAndHeartbeats) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "m-1"));
    ASSERT_TRUE(enrolAndRegister(server, "m-2"));
    enrol(server.admin(), "m-3");
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(heartbeat(server.pub(), "m-1").status, 200);
    }
    EXPECT_EQ(registerDevice(server.pub(), "m-3", "000000").status, 401);
    HttpResult metrics = http("GET", server.admin(), "/metrics", "", adminAuth());
    for (const std::string line :
         {"switchboard_devices_enrolled 3", "switchboard_devices_registered 2",
          "switchboard_devices_online 2", "switchboard_devices_heartbeats_total 3",
          "switchboard_devices_registrations_total 2", "switchboard_devices_token_failures_total 1",
          "switchboard_devices_enrolled_total 3"}) {
        EXPECT_NE(metrics.body.find(line + "\n"), std::string::npos) << line;
    }
}

// ---------------------------------------------------------------------------------------------
// Write-behind and durability

TEST(DevicesDurabilityTest, HeartbeatsReachTheStoreThroughWriteBehind) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "wb-1"));
    // The registration was durable before its reply.
    auto row = storedRow(server.database(), "wb-1");
    EXPECT_EQ(row["registered"], "1");
    EXPECT_EQ(row["device_info"], "{\"ip_address\":\"127.0.0.1\"}");

    ASSERT_EQ(heartbeat(server.pub(), "wb-1", R"({"ip_lan":"10.4.4.4"})").status, 200);
    std::string lastSeen = numberText(details(server.pub(), "wb-1").body, "last_seen");
    // store.flush_interval is 200ms in tests: the row catches up without another request.
    EXPECT_TRUE(eventually([&] {
        auto r = storedRow(server.database(), "wb-1");
        return r["device_info"] == "{\"ip_address\":\"127.0.0.1\",\"ip_lan\":\"10.4.4.4\"}";
    }));
    row = storedRow(server.database(), "wb-1");
    EXPECT_NEAR(std::stod(row["last_seen"]), std::stod(lastSeen), 1e-5);

    // A heartbeat that repeats the same fields moves only last_seen.
    ASSERT_EQ(heartbeat(server.pub(), "wb-1", R"({"ip_lan":"10.4.4.4"})").status, 200);
    std::string later = numberText(details(server.pub(), "wb-1").body, "last_seen");
    ASSERT_NE(later, lastSeen);
    EXPECT_TRUE(eventually([&] {
        auto r = storedRow(server.database(), "wb-1");
        return r["last_seen"] != "NULL" &&
               std::abs(std::stod(r["last_seen"]) - std::stod(later)) < 1e-5;
    }));
    EXPECT_EQ(storedRow(server.database(), "wb-1")["device_info"],
              "{\"ip_address\":\"127.0.0.1\",\"ip_lan\":\"10.4.4.4\"}");
}

TEST(DevicesDurabilityTest, RegistrationsRevocationsAndSshKeysSurviveKill9) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "dur-kill", "rack 4");
    std::string pending = enrol(server.admin(), "dur-pending");
    ASSERT_EQ(registerDevice(server.pub(), "dur-kill", token, R"({"mac":"AA:BB"})").status, 200);
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 k";
    ASSERT_EQ(putSshKey(server.pub(), "dur-kill", "{\"pubkey\":\"" + key + "\"}").status, 200);
    ASSERT_TRUE(enrolAndRegister(server, "dur-kill-revoked"));
    ASSERT_EQ(adminRevoke(server.admin(), "dur-kill-revoked").status, 200);
    std::string before = details(server.pub(), "dur-kill").body;
    EXPECT_NE(before.find("\"ssh_pubkey\":\"" + key + "\""), std::string::npos);
    server.restart(SIGKILL);  // right after the replies
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(details(server.pub(), "dur-kill").body, before);
    HttpResult again = registerDevice(server.pub(), "dur-kill", token);
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(again.body, failJson("Already registered"));
    EXPECT_EQ(heartbeat(server.pub(), "dur-kill").body, okJson("Heartbeat received"));
    EXPECT_NE(adminShow(server.admin(), "dur-kill").body.find("\"note\":\"rack 4\""),
              std::string::npos);
    EXPECT_EQ(heartbeat(server.pub(), "dur-kill-revoked").body, failJson("Device revoked"));
    // The pending token of the other device survives too (as its hash).
    EXPECT_EQ(registerDevice(server.pub(), "dur-pending", pending).body,
              registeredJson("dur-pending"));
}

TEST(DevicesDurabilityTest, GracefulRestartKeepsTheLatestHeartbeatRevocationAndSshKey) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "dur-beat"));
    ASSERT_TRUE(enrolAndRegister(server, "dur-rev"));
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 t";
    ASSERT_EQ(putSshKey(server.pub(), "dur-beat", "{\"pubkey\":\"" + key + "\"}").status, 200);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(
            heartbeat(server.pub(), "dur-beat", "{\"note\":\"beat " + std::to_string(i) + "\"}")
                .status,
            200);
    }
    ASSERT_EQ(adminRevoke(server.admin(), "dur-rev").status, 200);
    std::string before = details(server.pub(), "dur-beat").body;
    server.restart(SIGTERM);  // the stop flushes pending heartbeats
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(details(server.pub(), "dur-beat").body, before);
    EXPECT_NE(before.find("\"note\":\"beat 2\""), std::string::npos);
    EXPECT_NE(before.find("\"ssh_pubkey\":\"" + key + "\""), std::string::npos);
    EXPECT_EQ(heartbeat(server.pub(), "dur-rev").body, failJson("Device revoked"));
}

TEST(DevicesDurabilityTest, ThousandsOfDevicesAreAllLoadedAfterRestart) {
    // More than two of the pages the plugin reads at start.
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    const int count = 4500;
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server.admin()));
    for (int i = 0; i < count; ++i) {
        std::string body = "{\"device_key\":\"many-" + std::to_string(10000 + i) + "\"}";
        Poco::Net::HTTPRequest request("POST", "/admin/api/devices",
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", std::string("Bearer ") + kAdminToken);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string reply;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), reply);
        ASSERT_EQ(response.getStatus(), 201) << reply;
    }
    ASSERT_TRUE(enrolAndRegister(server, "many-registered"));
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    HttpResult metrics = http("GET", server.admin(), "/metrics", "", adminAuth());
    EXPECT_NE(metrics.body.find("switchboard_devices_enrolled " + std::to_string(count + 1) + "\n"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("switchboard_devices_registered 1\n"), std::string::npos);
    for (int i : {0, 1999, 2000, 3999, 4000, count - 1}) {
        std::string key = "many-" + std::to_string(10000 + i);
        EXPECT_EQ(details(server.pub(), key).status, 200) << key;
    }
    EXPECT_EQ(heartbeat(server.pub(), "many-registered").body, okJson("Heartbeat received"));
}

TEST(DevicesDurabilityTest, AReloadThatRestartsThePluginKeepsTheLatestHeartbeat) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    // No write-behind flush on its own during this test: only the plugin's stop writes.
    std::string yaml = server.yaml;
    std::size_t at = yaml.find("flush_interval: 200ms");
    ASSERT_NE(at, std::string::npos);
    server.yaml = yaml.replace(at, 21, "flush_interval: 1h");
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "reload-1"));
    ASSERT_EQ(heartbeat(server.pub(), "reload-1", R"({"note":"latest"})").status, 200);
    std::string before = details(server.pub(), "reload-1").body;

    // A changed devices section makes the reload start a new plugin instance.
    std::string changed = server.yaml;
    changed.replace(changed.find("offline_after: 60s"), 18, "offline_after: 61s");
    server.dir.write("switchboard.yaml", changed);
    HttpResult reload = http("POST", server.admin(), "/admin/api/reload", "", adminAuth());
    EXPECT_EQ(reload.status, 200);
    EXPECT_EQ(reload.body, "{\"reloaded\":true}");
    EXPECT_EQ(details(server.pub(), "reload-1").body, before);
    EXPECT_NE(before.find("\"note\":\"latest\""), std::string::npos);
}

TEST(DevicesDurabilityTest, DeviceThatWentQuietWhileStoppedIsOfflineAfterStart) {
    Server server(devicesConfig(", offline_after: 1s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "dur-quiet"));
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    sleepFor(1500ms);
    server.start();
    ASSERT_TRUE(server.ready);
    EXPECT_NE(details(server.pub(), "dur-quiet").body.find("\"online\":false"), std::string::npos);
    EXPECT_EQ(heartbeat(server.pub(), "dur-quiet").status, 200);
    EXPECT_NE(details(server.pub(), "dur-quiet").body.find("\"online\":true"), std::string::npos);
}

TEST(DevicesDurabilityTest, AStoreFromBeforeOnlineWasStoredComesUpWithTheOldRule) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "up-recent"));
    ASSERT_TRUE(enrolAndRegister(server, "up-quiet"));
    server.process->signal(SIGTERM);
    ASSERT_EQ(server.process->wait(), 0);
    // Schema version 2: no online column, and up-quiet last seen an hour ago.
    executeOnDatabase(server.database(),
                      "UPDATE device_seen SET last_seen = last_seen - 3600 WHERE id ="
                      " (SELECT id FROM devices WHERE device_key = 'up-quiet')");
    executeOnDatabase(server.database(), "ALTER TABLE device_seen DROP COLUMN online");
    executeOnDatabase(server.database(),
                      "UPDATE schema_migrations SET version = 2 WHERE owner = 'devices'");
    server.start();
    ASSERT_TRUE(server.ready);
    EXPECT_NE(details(server.pub(), "up-recent").body.find("\"online\":true"), std::string::npos);
    EXPECT_NE(details(server.pub(), "up-quiet").body.find("\"online\":false"), std::string::npos);
    // Each state is the stored one: the quiet device's next heartbeat is a transition.
    EventStream events(server.admin(), "device.*");
    ASSERT_EQ(heartbeat(server.pub(), "up-recent").status, 200);
    ASSERT_EQ(heartbeat(server.pub(), "up-quiet").status, 200);
    auto online = events.next("device.online");
    ASSERT_TRUE(online);
    EXPECT_NE(online->data.find("\"device_key\":\"up-quiet\""), std::string::npos) << online->data;
}

TEST(DevicesDurabilityTest, WritesTheStoreRefusesAre503WithRetryAfterAndChangeNothing) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "fail-reg");
    ASSERT_TRUE(enrolAndRegister(server, "fail-ssh"));
    ASSERT_TRUE(enrolAndRegister(server, "fail-rev"));
    std::string kept = enrol(server.admin(), "fail-token");

    // The tables move away: every write of the plugin fails at once.
    executeOnDatabase(server.database(), "ALTER TABLE devices RENAME TO devices_away");
    executeOnDatabase(server.database(), "ALTER TABLE device_seen RENAME TO device_seen_away");
    HttpResult reg = registerDevice(server.pub(), "fail-reg", token);
    EXPECT_EQ(reg.status, 503);
    EXPECT_EQ(reg.header("Retry-After"), "1");
    EXPECT_EQ(reg.body, failJson("cannot store the registration"));
    HttpResult ssh = putSshKey(
        server.pub(), "fail-ssh",
        R"({"pubkey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98"})");
    EXPECT_EQ(ssh.status, 503);
    EXPECT_EQ(ssh.header("Retry-After"), "1");
    EXPECT_EQ(ssh.body, failJson("cannot store the SSH key"));
    HttpResult created = adminCreate(server.admin(), R"({"device_key":"fail-new"})");
    EXPECT_EQ(created.status, 503);
    EXPECT_EQ(created.header("Retry-After"), "1");
    EXPECT_EQ(created.body, errorJson("cannot store the device"));
    HttpResult token2 =
        http("POST", server.admin(), "/admin/api/devices/fail-token/token", "", adminAuth());
    EXPECT_EQ(token2.status, 503);
    EXPECT_EQ(token2.header("Retry-After"), "1");
    EXPECT_EQ(token2.body, errorJson("cannot store the token"));
    HttpResult revoked = adminRevoke(server.admin(), "fail-rev");
    EXPECT_EQ(revoked.status, 503);
    EXPECT_EQ(revoked.header("Retry-After"), "1");
    EXPECT_EQ(revoked.body, errorJson("cannot store the revocation"));
    // Heartbeats are answered from memory; their write waits for the tables to return.
    EXPECT_EQ(heartbeat(server.pub(), "fail-ssh", R"({"note":"queued"})").status, 200);
    EXPECT_TRUE(server.process->waitForLog("flush of"));
    executeOnDatabase(server.database(), "ALTER TABLE devices_away RENAME TO devices");
    executeOnDatabase(server.database(), "ALTER TABLE device_seen_away RENAME TO device_seen");

    // Nothing changed: the same requests now succeed.
    EXPECT_EQ(registerDevice(server.pub(), "fail-reg", token).body, registeredJson("fail-reg"));
    EXPECT_NE(details(server.pub(), "fail-ssh").body.find("\"ssh_pubkey\":null"),
              std::string::npos);
    EXPECT_EQ(adminShow(server.admin(), "fail-new").status, 404);
    EXPECT_EQ(adminCreate(server.admin(), R"({"device_key":"fail-new"})").status, 201);
    EXPECT_EQ(registerDevice(server.pub(), "fail-token", kept).body, registeredJson("fail-token"));
    EXPECT_EQ(heartbeat(server.pub(), "fail-rev").status, 200);
    EXPECT_TRUE(eventually([&] {
        return storedRow(server.database(), "fail-ssh")["device_info"].find("queued") !=
               std::string::npos;
    }));
}

// ---------------------------------------------------------------------------------------------
// Rate limiting of token guesses

TEST(DevicesRateLimitTest, PerDeviceLimitThrottlesGuessesButKeepsTheToken) {
    Server server(devicesConfig(", rate_limit: { per_device: 3, per_address: 0, window: 2s }"));
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "rl-dev");
    std::string other = enrol(server.admin(), "rl-other");
    std::string wrong = token == "000000" ? "000001" : "000000";
    for (int i = 0; i < 3; ++i) {
        HttpResult r = registerDevice(server.pub(), "rl-dev", wrong);
        EXPECT_EQ(r.status, 401) << i;
        EXPECT_EQ(r.header("Retry-After"), "");
    }
    for (const std::string& guess : {wrong, token}) {
        HttpResult limited = registerDevice(server.pub(), "rl-dev", guess);
        EXPECT_EQ(limited.status, 429);
        EXPECT_EQ(limited.body, failJson("Too many failed attempts; retry later"));
        std::string retry = limited.header("Retry-After");
        ASSERT_FALSE(retry.empty());
        EXPECT_GE(std::stoi(retry), 1);
        EXPECT_LE(std::stoi(retry), 2);
    }
    // Other devices are not affected; heartbeats never are.
    EXPECT_EQ(registerDevice(server.pub(), "rl-other", other).body, registeredJson("rl-other"));
    // When the window ends the real token still works: guesses never burn it.
    EXPECT_TRUE(eventually(
        [&] { return registerDevice(server.pub(), "rl-dev", token).status == 200; }, 10s));
    EXPECT_EQ(details(server.pub(), "rl-dev").body.find("\"registered\":true") != std::string::npos,
              true);
}

TEST(DevicesRateLimitTest, PerAddressLimitCountsGuessesAcrossDevices) {
    Server server(devicesConfig(", rate_limit: { per_device: 0, per_address: 3, window: 60s }"));
    ASSERT_TRUE(server.ready);
    std::string a = enrol(server.admin(), "rl-a");
    std::string b = enrol(server.admin(), "rl-b");
    std::string c = enrol(server.admin(), "rl-c");
    EXPECT_EQ(registerDevice(server.pub(), "rl-a", a == "000000" ? "000001" : "000000").status,
              401);
    EXPECT_EQ(registerDevice(server.pub(), "rl-b", b == "000000" ? "000001" : "000000").status,
              401);
    // Walking device keys counts too.
    EXPECT_EQ(registerDevice(server.pub(), "rl-nobody", "000000").status, 404);
    HttpResult limited = registerDevice(server.pub(), "rl-c", c);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, failJson("Too many failed attempts; retry later"));
    EXPECT_FALSE(limited.header("Retry-After").empty());
    // Another address registers fine, with the same device's token.
    HttpResult other = httpFrom("127.0.0.2", "POST", server.pub(), "/api/devices/rl-c/register",
                                "{\"token_code\":\"" + c + "\"}");
    EXPECT_EQ(other.status, 200);
    EXPECT_EQ(other.body, registeredJson("rl-c"));
    // rl-c is served from 127.0.0.2 now: the limited address does not reach it.
    EXPECT_EQ(heartbeat(server.pub(), "rl-c").status, 429);
    EXPECT_EQ(httpFrom("127.0.0.2", "POST", server.pub(), "/api/devices/rl-c/online", "{}").status,
              200);
    HttpResult metrics = http("GET", server.admin(), "/metrics", "", adminAuth());
    EXPECT_NE(metrics.body.find("switchboard_devices_rate_limited_total 2\n"), std::string::npos);
}

TEST(DevicesRateLimitTest, ALimitedAddressReachesOnlyTheDevicesItServes) {
    // Unknown keys were not throttled: anyone could walk guessable keys ("meeting-room-4") with
    // heartbeats and detail look-ups. Now they count against the address; once it is limited it
    // still reaches the devices that heartbeat from it, and nothing else.
    Server server(devicesConfig(", rate_limit: { per_device: 0, per_address: 3, window: 60s }"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "rl-home"));  // from 127.0.0.1
    std::string away = enrol(server.admin(), "rl-away");
    ASSERT_EQ(httpFrom("127.0.0.2", "POST", server.pub(), "/api/devices/rl-away/register",
                       "{\"token_code\":\"" + away + "\"}")
                  .status,
              200);
    EXPECT_EQ(heartbeat(server.pub(), "rl-unknown-1").body, failJson("Device not found"));
    EXPECT_EQ(details(server.pub(), "rl-unknown-2").status, 404);
    EXPECT_EQ(putSshKey(server.pub(), "rl-unknown-3", "{\"pubkey\":\"x\"}").status, 404);
    for (const std::string& key : {std::string("rl-unknown-4"), std::string("rl-away")}) {
        HttpResult r = details(server.pub(), key);
        EXPECT_EQ(r.status, 429) << key;
        EXPECT_EQ(r.body, failJson("Too many failed attempts; retry later"));
        EXPECT_FALSE(r.header("Retry-After").empty());
    }
    EXPECT_EQ(heartbeat(server.pub(), "rl-home").body, okJson("Heartbeat received"));
    EXPECT_EQ(details(server.pub(), "rl-home").status, 200);
    // The other address is not limited.
    EXPECT_EQ(httpFrom("127.0.0.2", "GET", server.pub(), "/api/devices/rl-away").status, 200);
    EXPECT_EQ(httpFrom("127.0.0.2", "GET", server.pub(), "/api/devices/rl-unknown-5").status, 404);
}

// ---------------------------------------------------------------------------------------------
// The device secret issued at registration (require_device_secret).

TEST(DevicesSecretTest, ByDefaultNoSecretIsIssuedAndTheKeyIsEnough) {
    Server server(devicesConfig());
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "sec-default"));  // the reply is the seed's exactly
    EXPECT_EQ(heartbeat(server.pub(), "sec-default").status, 200);
    EXPECT_EQ(http("POST", server.pub(), "/api/devices/sec-default/online", "{}",
                   {{"X-Device-Secret", "wrong"}})
                  .status,
              200);
    EXPECT_EQ(storedRow(server.database(), "sec-default").at("secret_hash"), "NULL");
}

TEST(DevicesSecretTest, RequiredSecretGuardsHeartbeatsKeysAndDetailsAcrossRestarts) {
    Server server(devicesConfig(
        ", require_device_secret: true, rate_limit: { per_device: 3, per_address: 0 }"));
    ASSERT_TRUE(server.ready);
    std::string token = enrol(server.admin(), "sec-1");
    HttpResult r = registerDevice(server.pub(), "sec-1", token);
    ASSERT_EQ(r.status, 200);
    std::string secret = deviceSecretOf(r.body);
    ASSERT_EQ(secret.size(), 32u) << r.body;
    EXPECT_EQ(r.body,
              "{\"ok\":true,\"message\":\"Device registered\",\"device_key\":\"sec-1\","
              "\"device_secret\":\"" +
                  secret + "\"}");
    // Only its hash is stored.
    std::string stored = storedRow(server.database(), "sec-1").at("secret_hash");
    EXPECT_EQ(stored.size(), 64u);
    EXPECT_EQ(stored.find(secret), std::string::npos);
    std::map<std::string, std::string> good = {{"X-Device-Secret", secret}};
    std::map<std::string, std::string> bad = {{"X-Device-Secret", std::string(32, '0')}};

    EXPECT_EQ(heartbeat(server.pub(), "sec-1").body, failJson("Device secret required"));
    EXPECT_EQ(heartbeat(server.pub(), "sec-1").status, 401);
    EXPECT_EQ(details(server.pub(), "sec-1").body, failJson("Device secret required"));
    EXPECT_EQ(putSshKey(server.pub(), "sec-1", "{}").body, failJson("Device secret required"));
    EXPECT_EQ(http("POST", server.pub(), "/api/devices/sec-1/online", "{}", bad).body,
              failJson("Invalid device secret"));
    EXPECT_EQ(http("POST", server.pub(), "/api/devices/sec-1/online", "{}", good).body,
              okJson("Heartbeat received"));
    EXPECT_EQ(http("GET", server.pub(), "/api/devices/sec-1", "", good).status, 200);
    EXPECT_EQ(http("PUT", server.pub(), "/api/devices/sec-1/ssh-key",
                   "{\"pubkey\":\"ssh-ed25519 "
                   "AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 t\"}",
                   good)
                  .body,
              okJson("SSH key stored"));
    // The secret survives a restart (stored as its hash).
    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(http("POST", server.pub(), "/api/devices/sec-1/online", "{}", good).status, 200);
    // Wrong secrets are counted per device (the restart began a new count): after three, even
    // the right one waits for the window (a guesser cannot tell when it found it).
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(http("GET", server.pub(), "/api/devices/sec-1", "", bad).status, 401) << i;
    }
    HttpResult limited = http("GET", server.pub(), "/api/devices/sec-1", "", good);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.body, failJson("Too many failed attempts; retry later"));
}

TEST(DevicesSecretTest, ReRegisteringIssuesANewSecretAndRevokingEndsTheOld) {
    Server server(devicesConfig(", require_device_secret: true"));
    ASSERT_TRUE(server.ready);
    std::string first =
        deviceSecretOf(registerDevice(server.pub(), "sec-2", enrol(server.admin(), "sec-2")).body);
    ASSERT_EQ(first.size(), 32u);
    std::string second = deviceSecretOf(
        registerDevice(server.pub(), "sec-2", newToken(server.admin(), "sec-2")).body);
    ASSERT_EQ(second.size(), 32u);
    EXPECT_NE(first, second);
    auto beat = [&](const std::string& secret) {
        return http("POST", server.pub(), "/api/devices/sec-2/online", "{}",
                    {{"X-Device-Secret", secret}});
    };
    EXPECT_EQ(beat(first).body, failJson("Invalid device secret"));
    EXPECT_EQ(beat(second).status, 200);
    ASSERT_EQ(adminRevoke(server.admin(), "sec-2").status, 200);
    EXPECT_EQ(beat(second).body, failJson("Invalid device secret"));
}

// ---------------------------------------------------------------------------------------------
// Client address and X-Forwarded-For

TEST(DevicesProxyTest, ForwardedForIsHonouredOnlyFromTrustedProxies) {
    Server server(devicesConfig(", offline_after: 60s"), "",
                  "  trusted_proxies: [127.0.0.1, 10.0.0.0/8]\n");
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "xff-1"));
    auto ipOf = [&] {
        HttpResult info = details(server.pub(), "xff-1");
        std::size_t at = info.body.find("\"ip_address\":\"");
        return info.body.substr(at + 14, info.body.find('"', at + 14) - at - 14);
    };
    auto beat = [&](const std::string& source, const std::string& xff) {
        std::map<std::string, std::string> headers;
        if (!xff.empty()) {
            headers["X-Forwarded-For"] = xff;
        }
        HttpResult r =
            httpFrom(source, "POST", server.pub(), "/api/devices/xff-1/online", "{}", headers);
        EXPECT_EQ(r.status, 200) << r.body;
    };
    beat("127.0.0.1", "203.0.113.7");
    EXPECT_EQ(ipOf(), "203.0.113.7");
    // Right to left, skipping trusted hops: the client is the first untrusted address.
    beat("127.0.0.1", "198.51.100.1, 203.0.113.8, 10.1.1.1");
    EXPECT_EQ(ipOf(), "203.0.113.8");
    beat("127.0.0.1", "garbage, 203.0.113.9");
    EXPECT_EQ(ipOf(), "203.0.113.9");
    beat("127.0.0.1", "203.0.113.10, not-an-ip");
    EXPECT_EQ(ipOf(), "127.0.0.1");
    // An untrusted peer's header is ignored.
    beat("127.0.0.2", "203.0.113.11");
    EXPECT_EQ(ipOf(), "127.0.0.2");
    beat("127.0.0.2", "");
    EXPECT_EQ(ipOf(), "127.0.0.2");
}

TEST(DevicesProxyTest, ForwardedForIsIgnoredWithoutTrustedProxies) {
    Server server(devicesConfig(", offline_after: 60s"));
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "xff-2"));
    HttpResult r = http("POST", server.pub(), "/api/devices/xff-2/online", "{}",
                        {{"X-Forwarded-For", "203.0.113.7"}});
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(details(server.pub(), "xff-2").body.find("\"ip_address\":\"127.0.0.1\""),
              std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The on_device_heartbeat Lua hook

constexpr const char* kHookScript = R"(
function on_device_heartbeat(device, info)
  if device.device_key == "hook-boom" then
    error("kaboom")
  end
  if device.device_key == "hook-loop" then
    while true do end
  end
  if device.device_key == "hook-nil" then
    return nil
  end
  return { seen_by = "lua", previous_mac = device.device_info.mac, reported_ip = info.ip_address,
           registered = device.registered_at > 0, ip_lan = "overridden" }
end
)";

TEST(DevicesHookTest, HookResultIsMergedAndFailuresRefuseTheHeartbeat) {
    TempDir scripts;
    std::string script = scripts.write("hooks.lua", kHookScript);
    Server server(devicesConfig(", offline_after: 60s"), "lua: { scripts: [" + script + "] }\n");
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "hook-ok", R"({"mac":"AA"})"));
    HttpResult r = heartbeat(server.pub(), "hook-ok", R"({"ip_lan":"10.0.0.1","mac":"BB"})");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, okJson("Heartbeat received"));
    // The hook's table is merged over the heartbeat's fields (Lua tables have no key order).
    auto d = parseJson(details(server.pub(), "hook-ok").body);
    ASSERT_TRUE(d);
    std::map<std::string, std::string> info;
    for (const auto& m : (*d)["device_info"].GetObject()) {
        info[m.name.GetString()] =
            m.value.IsString() ? m.value.GetString() : (m.value.IsTrue() ? "true" : "?");
    }
    std::map<std::string, std::string> expected = {
        {"mac", "BB"},          {"ip_address", "127.0.0.1"}, {"ip_lan", "overridden"},
        {"previous_mac", "AA"}, {"registered", "true"},      {"reported_ip", "127.0.0.1"},
        {"seen_by", "lua"}};
    EXPECT_EQ(info, expected);

    ASSERT_TRUE(enrolAndRegister(server, "hook-nil"));
    EXPECT_EQ(heartbeat(server.pub(), "hook-nil", R"({"mac":"CC"})").status, 200);
    EXPECT_NE(details(server.pub(), "hook-nil")
                  .body.find("\"device_info\":{\"ip_address\":\"127.0.0.1\",\"mac\":\"CC\"}"),
              std::string::npos);

    for (const std::string key : {"hook-boom", "hook-loop"}) {
        ASSERT_TRUE(enrolAndRegister(server, key));
        std::string before = details(server.pub(), key).body;
        HttpResult failed = heartbeat(server.pub(), key, R"({"mac":"DD"})");
        EXPECT_EQ(failed.status, 500) << key;
        EXPECT_EQ(failed.body, failJson("heartbeat hook failed")) << key;
        EXPECT_EQ(details(server.pub(), key).body, before) << "not recorded";
    }
    EXPECT_TRUE(server.process->waitForLog("kaboom"));
    EXPECT_TRUE(server.process->waitForLog("instruction budget exceeded"));
    // Unregistered devices are refused before the hook runs.
    enrol(server.admin(), "hook-enrolled");
    EXPECT_EQ(heartbeat(server.pub(), "hook-enrolled").body, failJson("Device not registered"));
    EXPECT_TRUE(server.process->running());
}

TEST(DevicesHookTest, ExampleHookFromThePluginFolderWorks) {
    std::string script =
        std::string(SB_SOURCE_DIR) + "/plugins/devices/hooks/on_device_heartbeat.lua";
    Server server(devicesConfig(", offline_after: 60s"), "lua: { scripts: [" + script + "] }\n");
    ASSERT_TRUE(server.ready);
    EventStream events(server.admin(), "lua.device_moved");
    ASSERT_TRUE(enrolAndRegister(server, "hook-example", R"({"ip_public":"198.51.100.1"})"));
    ASSERT_EQ(heartbeat(server.pub(), "hook-example", R"({"ip_public":"198.51.100.2"})").status,
              200);
    auto moved = events.next("lua.device_moved", "hook-example");
    ASSERT_TRUE(moved);
    EXPECT_NE(moved->data.find("\"from\":\"198.51.100.1\""), std::string::npos) << moved->data;
    EXPECT_NE(moved->data.find("\"to\":\"198.51.100.2\""), std::string::npos) << moved->data;
    EXPECT_NE(
        details(server.pub(), "hook-example").body.find("\"last_heartbeat_from\":\"127.0.0.1\""),
        std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The SSH host key

/// The public key line that the seed of an OpenSSH ed25519 private key file derives, checked
/// with OpenSSL (independently of the plugin's libsodium code).
std::string publicLineFromPrivateKey(const std::string& text) {
    std::string body;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("-----") == std::string::npos) {
            body += line;
        }
    }
    std::string blob(body.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(blob.data()),
                            reinterpret_cast<const unsigned char*>(body.data()),
                            static_cast<int>(body.size()));
    if (n < 0) {
        return "bad base64";
    }
    blob.resize(static_cast<std::size_t>(n));
    auto u32 = [&](std::size_t at) {
        return (std::uint32_t{static_cast<unsigned char>(blob[at])} << 24) |
               (std::uint32_t{static_cast<unsigned char>(blob[at + 1])} << 16) |
               (std::uint32_t{static_cast<unsigned char>(blob[at + 2])} << 8) |
               std::uint32_t{static_cast<unsigned char>(blob[at + 3])};
    };
    if (blob.compare(0, 15, std::string("openssh-key-v1\0", 15)) != 0) {
        return "bad magic";
    }
    std::size_t at = 15;
    std::vector<std::string> strings;
    auto next = [&] {
        std::uint32_t len = u32(at);
        strings.push_back(blob.substr(at + 4, len));
        at += 4 + len;
    };
    next();   // cipher
    next();   // kdf
    next();   // kdf options
    at += 4;  // key count
    next();   // public blob
    next();   // private section
    if (strings[0] != "none" || strings[1] != "none") {
        return "encrypted";
    }
    std::string priv = strings[4];
    // checkints (8), "ssh-ed25519", pk, sk (64 = seed + pk), comment
    std::size_t p = 8;
    auto privString = [&] {
        std::uint32_t len = (std::uint32_t{static_cast<unsigned char>(priv[p])} << 24) |
                            (std::uint32_t{static_cast<unsigned char>(priv[p + 1])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(priv[p + 2])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(priv[p + 3])};
        std::string s = priv.substr(p + 4, len);
        p += 4 + len;
        return s;
    };
    std::string type = privString();
    std::string pk = privString();
    std::string sk = privString();
    std::string comment = privString();
    if (type != "ssh-ed25519" || sk.size() != 64) {
        return "bad private section";
    }
    EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(sk.data()), 32);
    unsigned char derived[32];
    std::size_t length = sizeof derived;
    EVP_PKEY_get_raw_public_key(key, derived, &length);
    EVP_PKEY_free(key);
    if (std::string(reinterpret_cast<char*>(derived), 32) != pk ||
        strings[3] != std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + pk) {
        return "public key does not match the seed";
    }
    std::string encoded(4 * ((strings[3].size() + 2) / 3) + 1, '\0');
    int e = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                            reinterpret_cast<const unsigned char*>(strings[3].data()),
                            static_cast<int>(strings[3].size()));
    encoded.resize(static_cast<std::size_t>(e));
    return "ssh-ed25519 " + encoded + " " + comment;
}

TEST(DevicesHostKeyTest, GeneratedKeyIsKeptAcrossRestarts) {
    Server server(devicesConfig());
    ASSERT_TRUE(server.ready);
    EXPECT_TRUE(server.process->waitForLog("generated an ed25519 SSH host key"));
    std::string keyFile = server.dir.path() + "/var/devices/ssh_host_ed25519_key";
    struct stat info {};
    ASSERT_EQ(::stat(keyFile.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    HttpResult first = http("GET", server.pub(), "/api/ssh-hostkey");
    ASSERT_EQ(first.status, 200);
    EXPECT_EQ(publicLineFromPrivateKey(readFile(keyFile)) + "\n", first.body);
    EXPECT_EQ(readFile(keyFile + ".pub"), first.body);

    server.restart(SIGTERM);
    ASSERT_TRUE(server.ready);
    EXPECT_EQ(http("GET", server.pub(), "/api/ssh-hostkey").body, first.body);
    EXPECT_EQ(server.process->log().find("generated an ed25519"), std::string::npos);
}

TEST(DevicesHostKeyTest, ConfiguredKeyFileIsServed) {
    TempDir keys;
    std::string path =
        keys.write("host.pub",
                   "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCpjo"
                   "IlrC8Xg4cCNrACCtqmTw7sOrfQgyiZgmBMoUSrGmZOJoytt4H/EOlOb7LaBzeRc6KPT1PoZd0jpuwi0"
                   "umw= root@meeting\n");
    Server server(devicesConfig(", ssh_host_key: " + path));
    ASSERT_TRUE(server.ready);
    HttpResult r = http("GET", server.pub(), "/api/ssh-hostkey");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.body, readFile(path));
    EXPECT_FALSE(Poco::File(server.dir.path() + "/var/devices/ssh_host_ed25519_key").exists());
}

// ---------------------------------------------------------------------------------------------
// Configuration errors are fatal and precise.

TEST(DevicesConfigTest, BadValuesAreReportedWithTheirPath) {
    TempDir dir;
    Ports ports;
    std::string garbage = dir.write("garbage.pub", "not a key\n");
    struct Case {
        std::string plugins;
        std::string message;
    } cases[] = {
        {"  devices: { offline_after: 0s }\n",
         "plugins.devices.offline_after: must be at least 1ms"},
        {"  devices: { check_interval: 0s }\n",
         "plugins.devices.check_interval: must be at least 1ms"},
        {"  devices: { token_ttl: 0s }\n", "plugins.devices.token_ttl: must be at least 1ms"},
        {"  devices: { rate_limit: { window: 0s } }\n",
         "plugins.devices.rate_limit.window: must be at least 1ms"},
        {"  devices: { max_field_length: 0 }\n",
         "plugins.devices.max_field_length: must be at least 1B"},
        {"  devices: { token_ttl: tomorrow }\n", "plugins.devices.token_ttl: expected a duration"},
        {"  devices: { ssh_host_key: " + dir.file("missing.pub") + " }\n",
         "plugins.devices.ssh_host_key: cannot read " + dir.file("missing.pub")},
        {"  devices: { ssh_host_key: " + garbage + " }\n",
         "plugins.devices.ssh_host_key: " + garbage +
             " is not an OpenSSH public key: unsupported key type 'not'"},
        {"  devices: { tokens: 6 }\n", "plugins.devices.tokens"},
    };
    for (const auto& c : cases) {
        dir.write("switchboard.yaml", configYaml(dir, ports, c.plugins));
        RunResult r = runSwitchboard({"--config=" + dir.file("switchboard.yaml"), "--check-config"},
                                     dir.path());
        EXPECT_NE(r.exitCode, 0) << c.plugins;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.plugins << r.output;
    }
}

TEST(DevicesRestartTest, RoutesAnswer503WhileARequestInsideHoldsTheRestart) {
    TempDir scripts;
    std::string script =
        scripts.write("hooks.lua", std::string(kLuaHold) +
                                       "function on_device_heartbeat(device, info)\n"
                                       "  if device.device_key == 'held' then hold_here() end\n"
                                       "end\n");
    std::string lua = "lua: { scripts: [" + script + "] }\n";
    Server server(devicesConfig(", offline_after: 60s"), lua);
    server.process.reset();  // again, with room to hold a request
    server.yaml = forHolding(server.yaml);
    server.start();
    ASSERT_TRUE(server.ready);
    ASSERT_TRUE(enrolAndRegister(server, "held"));
    ASSERT_TRUE(enrolAndRegister(server, "other"));
    auto held = std::async(std::launch::async, [&] { return heartbeat(server.pub(), "held"); });
    ASSERT_TRUE(server.process->waitForLog("hook holding here")) << server.process->log();
    // A changed section restarts the plugin; it waits for the heartbeat inside.
    server.dir.write("switchboard.yaml",
                     forHolding(configYaml(server.dir, server.ports,
                                           devicesConfig(", offline_after: 61s"), lua)));
    auto reload = std::async(std::launch::async, [&] {
        return http("POST", server.admin(), "/admin/api/reload", "", adminAuth());
    });
    HttpResult restarting;
    EXPECT_TRUE(eventually([&] {
        restarting = details(server.pub(), "other");
        return restarting.status != 200;
    }));
    EXPECT_EQ(restarting.status, 503);
    EXPECT_EQ(restarting.header("Retry-After"), "1");
    EXPECT_EQ(restarting.body, errorJson("plugin devices is restarting; retry shortly"));
    EXPECT_EQ(heartbeat(server.pub(), "other").body, restarting.body);
    releaseLuaHold(server.database());
    HttpResult beat = held.get();
    EXPECT_EQ(beat.status, 200) << beat.body;
    EXPECT_EQ(reload.get().status, 200);
    EXPECT_EQ(details(server.pub(), "other").status, 200);
    EXPECT_EQ(heartbeat(server.pub(), "other").status, 200);
}

}  // namespace
}  // namespace switchboard::test::devices
