// Integration tests of the devices plugin's HTTP API (seed 004, DESIGN.md §7): the real
// switchboard binary on loopback ports, driven the way an operator (admin API) and the Meeting
// client (device API) drive it. One server is shared; every test uses its own device keys.
#include "DevicesTestSupport.h"

#include <openssl/evp.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace switchboard::test::devices {
namespace {

class DevicesApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server =
            new Server(devicesConfig(", offline_after: 60s, token_ttl: 1h, "
                                     "max_field_length: 64, "
                                     "rate_limit: { per_device: 0, per_address: 0 }"));
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(server->ready); }

    static int pub() { return server->pub(); }
    static int admin() { return server->admin(); }
    static Server* server;
};

Server* DevicesApiTest::server = nullptr;

// ---------------------------------------------------------------------------------------------
// Admin enrolment

TEST_F(DevicesApiTest, EnrolmentReturnsAOneTimeTokenThatExpiresAfterTokenTtl) {
    double before = epochNow();
    HttpResult r = adminCreate(admin(), R"({"device_key":"enrol-1","note":"front desk"})");
    double after = epochNow();
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_FALSE(tokenOf(r, 201, "enrol-1").empty()) << r.body;
    auto d = parseJson(r.body);
    ASSERT_TRUE(d);
    double expires = (*d)["token_expires_at"].GetDouble();
    EXPECT_GE(expires, before + 3600 - 0.001);
    EXPECT_LE(expires, after + 3600 + 0.001);

    // The listing never shows the token again, only that one is pending.
    HttpResult show = adminShow(admin(), "enrol-1");
    EXPECT_EQ(show.status, 200);
    std::string code = (*d)["token_code"].GetString();
    EXPECT_EQ(show.body.find(code), std::string::npos) << show.body;
    EXPECT_EQ(show.body, "{\"device_key\":\"enrol-1\",\"note\":\"front desk\",\"created_at\":" +
                             numberText(show.body, "created_at") +
                             ",\"registered\":false,\"registered_at\":null,\"revoked\":false,"
                             "\"online\":false,\"last_seen\":null,\"token_pending\":true,"
                             "\"token_expires_at\":" +
                             numberText(r.body, "token_expires_at") +
                             ",\"device_info\":{},\"ssh_pubkey\":null}");
}

TEST_F(DevicesApiTest, EnrolmentGeneratesADeviceKeyWhenNoneIsGiven) {
    std::set<std::string> keys;
    for (const std::string body : {"", "{}", R"({"note":"spare"})", R"({"device_key":null})"}) {
        HttpResult r = adminCreate(admin(), body);
        EXPECT_EQ(r.status, 201) << body;
        auto d = parseJson(r.body);
        ASSERT_TRUE(d);
        std::string key = (*d)["device_key"].GetString();
        EXPECT_EQ(key.compare(0, 7, "device-"), 0) << key;
        EXPECT_TRUE(consistsOf(key.substr(7), 16, "0123456789abcdef")) << key;
        keys.insert(key);
        // The generated key works like any other.
        std::string token = (*d)["token_code"].GetString();
        EXPECT_EQ(registerDevice(pub(), key, token).body, registeredJson(key));
    }
    EXPECT_EQ(keys.size(), 4u);
}

TEST_F(DevicesApiTest, EnrolmentRejectsBadRequests) {
    enrol(admin(), "enrol-dup");
    struct Case {
        std::string body;
        int status;
        std::string error;
    } cases[] = {
        {R"({"device_key":"enrol-dup"})", 409, "device already exists"},
        {R"({"device_key":""})", 400,
         "device_key must be 1-128 characters: letters, digits, '.', '_', '-'"},
        {R"({"device_key":"has space"})", 400,
         "device_key must be 1-128 characters: letters, digits, '.', '_', '-'"},
        {R"({"device_key":"a/b"})", 400,
         "device_key must be 1-128 characters: letters, digits, '.', '_', '-'"},
        {"{\"device_key\":\"" + std::string(129, 'k') + "\"}", 400,
         "device_key must be 1-128 characters: letters, digits, '.', '_', '-'"},
        {R"({"device_key":42})", 400, "device_key must be a string"},
        {R"({"note":["x"]})", 400, "note must be a string"},
        {"{\"note\":\"" + std::string(65, 'n') + "\"}", 400, "note is too long (limit 64 bytes)"},
        {R"({"note":"a\u0000b"})", 400, "note must not contain NUL characters"},
        {"not json", 400, "body is not valid JSON"},
        {"[]", 400, "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = adminCreate(admin(), c.body);
        EXPECT_EQ(r.status, c.status) << c.body;
        EXPECT_EQ(r.body, errorJson(c.error)) << c.body;
    }
    // 128 characters of every allowed kind are fine.
    std::string longest = "Az09._-" + std::string(121, 'x');
    EXPECT_FALSE(enrol(admin(), longest).empty());
}

TEST_F(DevicesApiTest, AdminRoutesNeedTheAdminToken) {
    struct Case {
        std::string method;
        std::string path;
    } cases[] = {{"POST", "/admin/api/devices"},
                 {"GET", "/admin/api/devices"},
                 {"GET", "/admin/api/devices/x"},
                 {"POST", "/admin/api/devices/x/token"},
                 {"DELETE", "/admin/api/devices/x"}};
    for (const auto& c : cases) {
        HttpResult r = http(c.method, admin(), c.path, "{}");
        EXPECT_EQ(r.status, 401) << c.path;
        EXPECT_EQ(r.body, errorJson("admin token required")) << c.path;
        HttpResult wrong = http(c.method, admin(), c.path, "{}", {{"Authorization", "Bearer no"}});
        EXPECT_EQ(wrong.status, 401) << c.path;
    }
    // The device API is not on the admin listener, the admin API not on the public one.
    EXPECT_EQ(http("GET", admin(), "/api/ssh-hostkey").status, 404);
    EXPECT_EQ(http("GET", pub(), "/admin/api/devices", "", adminAuth()).status, 404);
}

TEST_F(DevicesApiTest, AdminListShowsOnlineStateAndLastSeen) {
    ASSERT_TRUE(enrolAndRegister(*server, "list-online"));
    enrol(admin(), "list-enrolled", "not yet");
    HttpResult beat = heartbeat(pub(), "list-online", R"({"ip_lan":"10.1.2.3"})");
    ASSERT_EQ(beat.status, 200);
    HttpResult shown = adminShow(admin(), "list-online");
    ASSERT_EQ(shown.status, 200);
    std::string lastSeen = numberText(shown.body, "last_seen");

    HttpResult list = http("GET", admin(), "/admin/api/devices?limit=1000", "", adminAuth());
    EXPECT_EQ(list.status, 200);
    auto d = parseJson(list.body);
    ASSERT_TRUE(d);
    ASSERT_TRUE((*d)["items"].IsArray());
    std::string previous;
    bool sawOnline = false, sawEnrolled = false;
    for (const auto& entry : (*d)["items"].GetArray()) {
        std::string key = entry["device_key"].GetString();
        EXPECT_LT(previous, key) << "sorted by key";
        previous = key;
        if (key == "list-online") {
            sawOnline = true;
            EXPECT_TRUE(entry["online"].GetBool());
            EXPECT_TRUE(entry["registered"].GetBool());
            EXPECT_FALSE(entry["token_pending"].GetBool());
            EXPECT_TRUE(entry["token_expires_at"].IsNull());
            EXPECT_EQ(std::to_string(entry["last_seen"].GetDouble()),
                      std::to_string(std::stod(lastSeen)));
            EXPECT_STREQ(entry["device_info"]["ip_lan"].GetString(), "10.1.2.3");
        }
        if (key == "list-enrolled") {
            sawEnrolled = true;
            EXPECT_FALSE(entry["online"].GetBool());
            EXPECT_FALSE(entry["registered"].GetBool());
            EXPECT_TRUE(entry["token_pending"].GetBool());
            EXPECT_TRUE(entry["last_seen"].IsNull());
            EXPECT_STREQ(entry["note"].GetString(), "not yet");
        }
    }
    EXPECT_TRUE(sawOnline && sawEnrolled) << list.body;
    // The listing entry is the same object GET /admin/api/devices/{key} returns.
    EXPECT_NE(list.body.find(shown.body), std::string::npos);
}

TEST_F(DevicesApiTest, AdminListIsPagedAndSearchable) {
    for (int i = 0; i < 5; ++i) {
        enrol(admin(), "paged-" + std::to_string(i), i == 3 ? "Kitchen display" : "");
    }
    auto list = [&](const std::string& query) {
        HttpResult r = http("GET", admin(), "/admin/api/devices" + query, "", adminAuth());
        EXPECT_EQ(r.status, 200) << query << " " << r.body;
        auto d = parseJson(r.body);
        std::vector<std::string> keys;
        if (!d || !(*d)["items"].IsArray()) {
            ADD_FAILURE() << r.body;
            return std::make_pair(keys, std::int64_t{-1});
        }
        for (const auto& entry : (*d)["items"].GetArray()) {
            keys.push_back(entry["device_key"].GetString());
        }
        return std::make_pair(keys, (*d)["total"].GetInt64());
    };
    using Keys = std::vector<std::string>;
    EXPECT_EQ(list("?q=PAGED-&limit=2"), std::make_pair(Keys{"paged-0", "paged-1"}, 5L));
    EXPECT_EQ(list("?q=paged-&limit=2&offset=2"), std::make_pair(Keys{"paged-2", "paged-3"}, 5L));
    EXPECT_EQ(list("?q=paged-&offset=4"), std::make_pair(Keys{"paged-4"}, 5L));
    EXPECT_EQ(list("?q=paged-&offset=9"), std::make_pair(Keys{}, 5L));
    EXPECT_EQ(list("?q=kitchen"), std::make_pair(Keys{"paged-3"}, 1L));  // the note matches too
    EXPECT_EQ(list("?q=no-such-device"), std::make_pair(Keys{}, 0L));
    // Without q: every device counts, the page holds at most `limit` of them in key order.
    auto all = list("?limit=1000");
    EXPECT_GE(all.second, 5);
    EXPECT_EQ(static_cast<std::int64_t>(all.first.size()), all.second);
    auto second = list("?limit=1&offset=1");
    EXPECT_EQ(second.first, Keys{all.first.at(1)});
    EXPECT_EQ(second.second, all.second);
    HttpResult plain = http("GET", admin(), "/admin/api/devices?q=paged-4", "", adminAuth());
    EXPECT_NE(plain.body.find("],\"total\":1,\"limit\":100,\"offset\":0}"), std::string::npos)
        << plain.body;

    for (const char* bad : {"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit="}) {
        HttpResult r =
            http("GET", admin(), std::string("/admin/api/devices?") + bad, "", adminAuth());
        if (std::string(bad) == "limit=") {
            EXPECT_EQ(r.status, 200) << bad;  // empty is the default
            continue;
        }
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(r.body, errorJson("limit must be an integer from 1 to 1000")) << bad;
    }
    for (const char* bad : {"offset=-1", "offset=x", "offset=1.5"}) {
        HttpResult r =
            http("GET", admin(), std::string("/admin/api/devices?") + bad, "", adminAuth());
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(r.body, errorJson("offset must be a non-negative integer")) << bad;
    }
    HttpResult longQ =
        http("GET", admin(), "/admin/api/devices?q=" + std::string(257, 'a'), "", adminAuth());
    EXPECT_EQ(longQ.status, 400);
    EXPECT_EQ(longQ.body, errorJson("q is too long (limit 256 bytes)"));
}

TEST_F(DevicesApiTest, InvalidUtf8InAHeartbeatIsRefusedAndNothingChanges) {
    ASSERT_TRUE(enrolAndRegister(*server, "utf8-beat", R"({"note":"before"})"));
    HttpResult beat = heartbeat(pub(), "utf8-beat", "{\"note\":\"bad \xff byte\"}");
    EXPECT_EQ(beat.status, 400);
    EXPECT_EQ(beat.body, failJson("note is not valid UTF-8"));
    HttpResult shown = http("GET", pub(), "/api/devices/utf8-beat");
    ASSERT_EQ(shown.status, 200);
    EXPECT_TRUE(parseJson(shown.body).has_value()) << shown.body;  // still valid JSON
    EXPECT_NE(shown.body.find("\"note\":\"before\""), std::string::npos) << shown.body;
}

TEST_F(DevicesApiTest, AdminRoutesOfUnknownDevicesAre404) {
    for (const std::string method : {"GET", "DELETE"}) {
        HttpResult r = http(method, admin(), "/admin/api/devices/nobody", "", adminAuth());
        EXPECT_EQ(r.status, 404) << method;
        EXPECT_EQ(r.body, errorJson("device not found")) << method;
    }
    HttpResult token = http("POST", admin(), "/admin/api/devices/nobody/token", "", adminAuth());
    EXPECT_EQ(token.status, 404);
    EXPECT_EQ(token.body, errorJson("device not found"));
}

// ---------------------------------------------------------------------------------------------
// Registration

TEST_F(DevicesApiTest, RegistrationBurnsTheTokenAndStoresDeviceInfo) {
    std::string token = enrol(admin(), "reg-ok");
    double before = epochNow();
    HttpResult r = registerDevice(pub(), "reg-ok", token,
                                  R"({"ip_address":"192.168.1.100","ip_lan":"10.0.0.50",)"
                                  R"("ip_public":"203.0.113.42","mac":"00:1A:2B:3C:4D:5E",)"
                                  R"("note":"Updates Manager Tool"})");
    double after = epochNow();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, registeredJson("reg-ok"));

    HttpResult again = registerDevice(pub(), "reg-ok", token);
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(again.body, failJson("Already registered"));

    HttpResult info = details(pub(), "reg-ok");
    EXPECT_EQ(info.status, 200);
    std::string registeredAt = numberText(info.body, "registered_at");
    EXPECT_GE(std::stod(registeredAt), before - 0.001);
    EXPECT_LE(std::stod(registeredAt), after + 0.001);
    EXPECT_EQ(info.body,
              "{\"ok\":true,\"message\":\"Device found\",\"device_key\":\"reg-ok\","
              "\"registered\":true,\"registered_at\":" +
                  registeredAt + ",\"last_seen\":" + registeredAt +
                  ",\"online\":true,\"device_info\":{\"ip_address\":\"192.168.1.100\","
                  "\"ip_lan\":\"10.0.0.50\",\"ip_public\":\"203.0.113.42\","
                  "\"mac\":\"00:1A:2B:3C:4D:5E\",\"note\":\"Updates Manager Tool\"},"
                  "\"ssh_pubkey\":null}");
}

TEST_F(DevicesApiTest, TokenIsCaseInsensitive) {
    std::string token = enrol(admin(), "reg-lower");
    std::string lower;
    for (char c : token) {
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(registerDevice(pub(), "reg-lower", lower).body, registeredJson("reg-lower"));

    std::string mixed;
    std::string token2 = enrol(admin(), "reg-mixed");
    for (std::size_t i = 0; i < token2.size(); i += 2) {
        mixed += static_cast<char>(std::tolower(static_cast<unsigned char>(token2[i])));
        if (i + 1 < token2.size()) {
            mixed += token2[i + 1];
        }
    }
    EXPECT_EQ(registerDevice(pub(), "reg-mixed", mixed).body, registeredJson("reg-mixed"));
    // Blanks around a pasted code are forgiven.
    std::string token3 = enrol(admin(), "reg-pasted");
    EXPECT_EQ(registerDevice(pub(), "reg-pasted", " " + token3 + "\\n").body,
              registeredJson("reg-pasted"));
}

TEST_F(DevicesApiTest, DeviceInfoFieldsAreAlsoAcceptedAtTopLevel) {
    std::string token = enrol(admin(), "reg-top");
    HttpResult r = registerRaw(pub(), "reg-top",
                               "{\"token_code\":\"" + token +
                                   R"(","ip_lan":"10.9.9.9","mac":"AA:BB","hostname":"ignored"})");
    EXPECT_EQ(r.body, registeredJson("reg-top"));
    HttpResult info = details(pub(), "reg-top");
    // ip_address defaults to the peer address; unknown fields are not stored.
    EXPECT_NE(info.body.find(R"("device_info":{"ip_lan":"10.9.9.9","mac":"AA:BB",)"
                             R"("ip_address":"127.0.0.1"})"),
              std::string::npos)
        << info.body;
}

TEST_F(DevicesApiTest, RegistrationOfUnknownDeviceIs404) {
    HttpResult r = registerDevice(pub(), "reg-nobody", "ABC123");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, failJson("Device not found"));
}

TEST_F(DevicesApiTest, WrongTokensAreRefusedAndNeverBurnTheRealOne) {
    std::string token = enrol(admin(), "reg-wrong");
    std::string wrong = token == "000000" ? "000001" : "000000";
    for (const std::string& guess :
         {wrong, std::string("12345"), std::string("1234567"), std::string("GHIJKL"),
          std::string(""), std::string(" ") + token.substr(1)}) {
        HttpResult r = registerDevice(pub(), "reg-wrong", guess);
        EXPECT_EQ(r.status, 401) << guess;
        EXPECT_EQ(r.body, failJson("Invalid token")) << guess;
    }
    // Another device's token is no good either.
    std::string other = enrol(admin(), "reg-wrong-other");
    EXPECT_EQ(registerDevice(pub(), "reg-wrong", other).status, other == token ? 200 : 401);
    EXPECT_EQ(registerDevice(pub(), "reg-wrong", token).body, registeredJson("reg-wrong"));
}

TEST_F(DevicesApiTest, RegistrationRejectsBadBodies) {
    enrol(admin(), "reg-bad");
    struct Case {
        std::string body;
        std::string message;
    } cases[] = {
        {"{}", "missing key: token_code"},
        {"", "missing key: token_code"},
        {R"({"token_code":null})", "missing key: token_code"},
        {R"({"token_code":123456})", "token_code must be a string"},
        {R"({"token_code":"ABC123","device_info":"x"})", "device_info must be an object"},
        {R"({"token_code":"ABC123","device_info":{"ip_lan":5}})",
         "device_info.ip_lan must be a string"},
        {R"({"token_code":"ABC123","mac":true})", "mac must be a string"},
        {"{\"token_code\":\"ABC123\",\"device_info\":{\"note\":\"" + std::string(65, 'x') + "\"}}",
         "device_info.note is too long (limit 64 bytes)"},
        {"token_code=ABC123", "body is not valid JSON"},
        {R"(["ABC123"])", "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = registerRaw(pub(), "reg-bad", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, failJson(c.message)) << c.body;
    }
}

TEST_F(DevicesApiTest, NewTokenReplacesTheOldOne) {
    std::string first = enrol(admin(), "reg-renew");
    std::string second = newToken(admin(), "reg-renew");
    if (second == first) {
        second = newToken(admin(), "reg-renew");  // 1 in 16 million: draw again
    }
    HttpResult old = registerDevice(pub(), "reg-renew", first);
    EXPECT_EQ(old.status, 401);
    EXPECT_EQ(old.body, failJson("Invalid token"));
    EXPECT_EQ(registerDevice(pub(), "reg-renew", second).body, registeredJson("reg-renew"));
}

TEST_F(DevicesApiTest, NewTokenLetsARegisteredDeviceRegisterAgain) {
    ASSERT_TRUE(enrolAndRegister(*server, "reg-again", R"({"ip_lan":"10.0.0.1","mac":"AA"})"));
    std::string registeredAt = numberText(details(pub(), "reg-again").body, "registered_at");
    std::string token = newToken(admin(), "reg-again");
    HttpResult r = registerDevice(pub(), "reg-again", token, R"({"ip_lan":"10.0.0.2"})");
    EXPECT_EQ(r.body, registeredJson("reg-again"));
    HttpResult info = details(pub(), "reg-again");
    EXPECT_NE(numberText(info.body, "registered_at"), registeredAt);
    // A new registration starts from what the device reports now.
    EXPECT_NE(info.body.find(R"("device_info":{"ip_lan":"10.0.0.2","ip_address":"127.0.0.1"})"),
              std::string::npos)
        << info.body;
    EXPECT_EQ(registerDevice(pub(), "reg-again", token).status, 409);
}

// ---------------------------------------------------------------------------------------------
// Heartbeats

TEST_F(DevicesApiTest, HeartbeatRecordsFieldsAndDefaultsIpAddressToThePeer) {
    ASSERT_TRUE(enrolAndRegister(*server, "hb-fields", R"({"mac":"00:11","note":"first"})"));
    double before = epochNow();
    HttpResult r = heartbeat(pub(), "hb-fields",
                             R"({"ip_lan":"10.0.0.7","ip_public":"198.51.100.1",)"
                             R"("cluster_ip":"172.16.0.9","note":"second"})");
    double after = epochNow();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, okJson("Heartbeat received"));
    HttpResult info = details(pub(), "hb-fields");
    double lastSeen = std::stod(numberText(info.body, "last_seen"));
    EXPECT_GE(lastSeen, before - 0.001);
    EXPECT_LE(lastSeen, after + 0.001);
    EXPECT_NE(info.body.find("\"online\":true,\"device_info\":{\"mac\":\"00:11\","
                             "\"note\":\"second\",\"ip_address\":\"127.0.0.1\","
                             "\"ip_lan\":\"10.0.0.7\",\"ip_public\":\"198.51.100.1\","
                             "\"cluster_ip\":\"172.16.0.9\"}"),
              std::string::npos)
        << info.body;

    // A reported ip_address wins over the peer address.
    EXPECT_EQ(heartbeat(pub(), "hb-fields", R"({"ip_address":"192.168.1.100"})").status, 200);
    EXPECT_NE(details(pub(), "hb-fields").body.find("\"ip_address\":\"192.168.1.100\""),
              std::string::npos);
}

TEST_F(DevicesApiTest, EveryHeartbeatFieldIsOptional) {
    ASSERT_TRUE(enrolAndRegister(*server, "hb-optional"));
    for (const std::string body :
         {"", "{}", "  ", R"({"ip_lan":null,"mac":null})", R"({"unknown":[1,2,3]})"}) {
        HttpResult r = heartbeat(pub(), "hb-optional", body);
        EXPECT_EQ(r.status, 200) << body;
        EXPECT_EQ(r.body, okJson("Heartbeat received")) << body;
    }
    EXPECT_NE(
        details(pub(), "hb-optional").body.find("\"device_info\":{\"ip_address\":\"127.0.0.1\"}"),
        std::string::npos);
}

TEST_F(DevicesApiTest, HeartbeatRejectsBadBodies) {
    ASSERT_TRUE(enrolAndRegister(*server, "hb-bad"));
    struct Case {
        std::string body;
        std::string message;
    } cases[] = {
        {R"({"ip_address":1})", "ip_address must be a string"},
        {R"({"ip_lan":{}})", "ip_lan must be a string"},
        {R"({"ip_public":false})", "ip_public must be a string"},
        {R"({"mac":[]})", "mac must be a string"},
        {R"({"cluster_ip":1.5})", "cluster_ip must be a string"},
        {R"({"note":0})", "note must be a string"},
        {"{\"mac\":\"" + std::string(65, 'm') + "\"}", "mac is too long (limit 64 bytes)"},
        {"online", "body is not valid JSON"},
        {"[{}]", "body must be a JSON object"},
    };
    for (const auto& c : cases) {
        HttpResult r = heartbeat(pub(), "hb-bad", c.body);
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_EQ(r.body, failJson(c.message)) << c.body;
    }
    // Exactly max_field_length is fine; nothing above changed the stored info.
    EXPECT_EQ(heartbeat(pub(), "hb-bad", "{\"mac\":\"" + std::string(64, 'm') + "\"}").status, 200);
}

TEST_F(DevicesApiTest, DeeplyNestedBodiesAre400AndTheServerKeepsServing) {
    ASSERT_TRUE(enrolAndRegister(*server, "hb-deep"));
    std::string deep = std::string(1000000, '[');
    HttpResult beat = heartbeat(pub(), "hb-deep", deep);
    EXPECT_EQ(beat.status, 400);
    EXPECT_EQ(beat.body, failJson("body is not valid JSON"));
    HttpResult reg = registerRaw(pub(), "hb-deep", "{\"device_info\":" + deep);
    EXPECT_EQ(reg.status, 400);
    HttpResult enrolment = adminCreate(admin(), "{\"note\":" + deep);
    EXPECT_EQ(enrolment.status, 400);
    EXPECT_EQ(enrolment.body, errorJson("body is not valid JSON"));
    EXPECT_EQ(heartbeat(pub(), "hb-deep").body, okJson("Heartbeat received"));
}

TEST_F(DevicesApiTest, HeartbeatOfUnknownOrUnregisteredDeviceIsRefused) {
    HttpResult unknown = heartbeat(pub(), "hb-nobody");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body, failJson("Device not found"));
    enrol(admin(), "hb-enrolled");
    HttpResult enrolled = heartbeat(pub(), "hb-enrolled");
    EXPECT_EQ(enrolled.status, 403);
    EXPECT_EQ(enrolled.body, failJson("Device not registered"));
    EXPECT_EQ(details(pub(), "hb-enrolled").body.find("\"last_seen\":null") != std::string::npos,
              true);
}

TEST_F(DevicesApiTest, ConcurrentHeartbeatsAreAllRecorded) {
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i) {
        keys.push_back("hb-many-" + std::to_string(i));
        ASSERT_TRUE(enrolAndRegister(*server, keys.back()));
    }
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                const std::string& key = keys[static_cast<std::size_t>(t * 50 + i) % keys.size()];
                if (heartbeat(pub(), key, "{\"note\":\"t" + std::to_string(t) + "\"}").status ==
                    200) {
                    ++ok;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(ok.load(), 400);
    for (const auto& key : keys) {
        EXPECT_NE(details(pub(), key).body.find("\"online\":true"), std::string::npos) << key;
    }
}

// ---------------------------------------------------------------------------------------------
// Device details, SSH host key and device SSH keys

TEST_F(DevicesApiTest, DetailsOfEnrolledUnknownAndRevokedDevices) {
    enrol(admin(), "get-enrolled");
    HttpResult enrolled = details(pub(), "get-enrolled");
    EXPECT_EQ(enrolled.status, 200);
    EXPECT_EQ(enrolled.body,
              "{\"ok\":true,\"message\":\"Device found\",\"device_key\":\"get-enrolled\","
              "\"registered\":false,\"registered_at\":null,\"last_seen\":null,\"online\":false,"
              "\"device_info\":{},\"ssh_pubkey\":null}");
    HttpResult unknown = details(pub(), "get-nobody");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body, failJson("Device not found"));
    ASSERT_TRUE(enrolAndRegister(*server, "get-revoked"));
    ASSERT_EQ(adminRevoke(admin(), "get-revoked").status, 200);
    HttpResult revoked = details(pub(), "get-revoked");
    EXPECT_EQ(revoked.status, 403);
    EXPECT_EQ(revoked.body, failJson("Device revoked"));
}

TEST_F(DevicesApiTest, SshHostKeyIsTheGeneratedEd25519Key) {
    HttpResult r = http("GET", pub(), "/api/ssh-hostkey");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    // "ssh-ed25519 " + base64(string "ssh-ed25519" + string <32 bytes>) + " switchboard-devices"
    const std::string prefix = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI";
    const std::string suffix = " switchboard-devices\n";
    ASSERT_EQ(r.body.size(), prefix.size() + 43 + suffix.size()) << r.body;
    EXPECT_EQ(r.body.compare(0, prefix.size(), prefix), 0) << r.body;
    EXPECT_TRUE(consistsOf(r.body.substr(prefix.size(), 43), 43,
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
        << r.body;
    EXPECT_EQ(r.body.substr(prefix.size() + 43), suffix);
    EXPECT_EQ(r.body, readFile(server->dir.path() + "/var/devices/ssh_host_ed25519_key.pub"));
}

// Real keys made with ssh-keygen (public halves only).
const char* const kEd25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx/rXLbuQDb6oiUMrtdwEIDp41sW70gzJUkG+rHDD98 test-ed25519";
const char* const kRsa2048 =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQD6j8Xhlyf763ValHukqEquqXhlzAlYIc2PSvlAttLhwfy9FZAdR3IM"
    "k3uVTrLvVdnddzZkTqeBowgfCbbTe9yA1pe3/cfcTqYAFh6V6eccgOIVCqH7CO0Pm7Wy9k2gRDzaTiiOVL9TF7GWwnul"
    "aoRamlxPpOvMXIk5/FJ7q1EauxvKJ/9tXysv+YQQKl3o43BPCEjMwQC/ZPgS72LXv0qeYrwcq2txFrfgqx/RCiyVs34Z"
    "hAaPW1ESsAoeNcEd5tqNwfLzrdMQ8ci11BAO6Wl5yrrXwoi1o+xZVw/bAi3MhZnkpPkxfpXzE5bdfLl9Bh6U7Cx/GWaB"
    "O2qR4evZgglH test-rsab2048";
const char* const kRsa1024 =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBcAq/hlhvZ1gUa+Iwr/4UdweHw5VKGL20ztI3i5ujMu2sNT2qvM5R/"
    "vSFykVzV0u3b219ziUxNNyJMR2n9Y4ZOxZwt9ntIXcy26H1tTPjoP2AOzkSpxCfZixVa71GTb/DeJUmClQH0IzADX30s"
    "Er1I1AMA9bwvjRC8HEbIVDn+Q==";
const char* const kEcdsa256 =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCpjoIlrC8Xg4cCNrACC"
    "tqmTw7sOrfQgyiZgmBMoUSrGmZOJoytt4H/EOlOb7LaBzeRc6KPT1PoZd0jpuwi0umw= test-ecdsab256";
const char* const kEcdsa384 =
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBMNtCFZg54ZywwLmqRI8"
    "QrVbl8/IHcRBkRHvl3oTbpG/+JRzIw4AzTqrJF9cStG5xEhZtv8KJKRF8cpugmtUtkOlr3J29uQndc2oI4Nfk2aBf28a"
    "TKvzBOFGWmwtiCVd2g== test-ecdsab384";
const char* const kEcdsa521 =
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAF14v+l7Jmf1Q98c8Bz"
    "X4yDGa7nr2LX1mRF/oyFhq3RSu8OMSr32bj3Jmsg2KuzDrPH285zvyGO7BPA94K0N8KUTQFtOQXuUeQjMQuAukDTRpo3"
    "LlznG+yrcd1QKrhyMdI+f3tOZQW3PwopDz+G7LK0WFjLAeHju9McCGRpDzv3XwObZA== test-ecdsab521";

/// An RFC 4251 string.
std::string wire(const std::string& bytes) {
    std::string out(4, '\0');
    out[0] = static_cast<char>((bytes.size() >> 24) & 0xff);
    out[1] = static_cast<char>((bytes.size() >> 16) & 0xff);
    out[2] = static_cast<char>((bytes.size() >> 8) & 0xff);
    out[3] = static_cast<char>(bytes.size() & 0xff);
    return out + bytes;
}

std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string putKeyBody(const std::string& pubkey) {
    std::string escaped;
    for (char c : pubkey) {
        if (c == '\n') {
            escaped += "\\n";
        } else if (c == '\r') {
            escaped += "\\r";
        } else if (c == '"') {
            escaped += "\\\"";
        } else {
            escaped += c;
        }
    }
    return "{\"pubkey\":\"" + escaped + "\"}";
}

TEST_F(DevicesApiTest, SshKeysOfEveryAcceptedTypeAreStored) {
    ASSERT_TRUE(enrolAndRegister(*server, "ssh-ok"));
    for (const std::string key : {kEd25519, kRsa2048, kRsa1024, kEcdsa256, kEcdsa384, kEcdsa521}) {
        HttpResult r = putSshKey(pub(), "ssh-ok", putKeyBody(key));
        EXPECT_EQ(r.status, 200) << key;
        EXPECT_EQ(r.body, okJson("SSH key stored")) << key;
        EXPECT_NE(details(pub(), "ssh-ok").body.find("\"ssh_pubkey\":\"" + key + "\"}"),
                  std::string::npos)
            << key;
    }
    // As read from a .pub file: the trailing newline and outer blanks are dropped.
    HttpResult r = putSshKey(pub(), "ssh-ok", putKeyBody(std::string("  ") + kEd25519 + "\n"));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(
        details(pub(), "ssh-ok").body.find(std::string("\"ssh_pubkey\":\"") + kEd25519 + "\"}"),
        std::string::npos);
}

TEST_F(DevicesApiTest, SecurityKeyTypesAreAccepted) {
    ASSERT_TRUE(enrolAndRegister(*server, "ssh-sk"));
    std::string ed =
        wire("sk-ssh-ed25519@openssh.com") + wire(std::string(32, '\x11')) + wire("ssh:");
    std::string point = "\x04" + std::string(64, '\x22');
    std::string ec =
        wire("sk-ecdsa-sha2-nistp256@openssh.com") + wire("nistp256") + wire(point) + wire("ssh:");
    for (const std::string& key : {"sk-ssh-ed25519@openssh.com " + base64(ed) + " yubikey",
                                   "sk-ecdsa-sha2-nistp256@openssh.com " + base64(ec)}) {
        HttpResult r = putSshKey(pub(), "ssh-sk", putKeyBody(key));
        EXPECT_EQ(r.status, 200) << key << r.body;
        EXPECT_NE(details(pub(), "ssh-sk").body.find("\"ssh_pubkey\":\"" + key + "\"}"),
                  std::string::npos);
    }
}

TEST_F(DevicesApiTest, SshKeysAreValidated) {
    ASSERT_TRUE(enrolAndRegister(*server, "ssh-bad"));
    const std::string edBlob = wire("ssh-ed25519") + wire(std::string(32, '\x01'));
    const std::string smallRsa =
        wire("ssh-rsa") + wire("\x01\x00\x01") + wire("\x00\xc3" + std::string(62, 'x'));
    const std::string accepted =
        "accepted: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, "
        "ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com";
    struct Case {
        std::string body;
        std::string message;
    } cases[] = {
        {"{}", "missing key: pubkey"},
        {R"({"pubkey":7})", "pubkey must be a string"},
        {R"({"ssh_pubkey":"ssh-ed25519 AAAA"})", "missing key: pubkey"},
        {putKeyBody(""), "pubkey must not be empty"},
        {putKeyBody(" \n"), "pubkey must not be empty"},
        {putKeyBody(std::string(kEd25519) + "\n" + kRsa2048), "pubkey must be a single line"},
        {putKeyBody("ssh-ed25519"),
         "pubkey must be an OpenSSH public key line: <type> <base64 key> [comment]"},
        {putKeyBody("AAAAC3NzaC1lZDI1NTE5"),
         "pubkey must be an OpenSSH public key line: <type> <base64 key> [comment]"},
        {putKeyBody("ssh-dss AAAAB3NzaC1kc3MAAACBAP"),
         "unsupported key type 'ssh-dss' (" + accepted + ")"},
        {putKeyBody("-----BEGIN OPENSSH PRIVATE KEY----- x"),
         "unsupported key type '-----BEGIN' (" + accepted + ")"},
        {putKeyBody("ssh-ed25519 not*base64"), "pubkey: key data is not valid base64"},
        {putKeyBody("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAx"),
         "pubkey: key data is not valid base64"},
        {putKeyBody("ssh-rsa " + base64(edBlob)),
         "pubkey: key data is a ssh-ed25519 key, not ssh-rsa"},
        {putKeyBody("ssh-ed25519 " + base64("garbage-bytes")),
         "pubkey: key data is malformed for ssh-ed25519"},
        {putKeyBody("ssh-ed25519 " + base64(wire("ssh-ed25519") + wire(std::string(31, 'k')))),
         "pubkey: key data is malformed for ssh-ed25519"},
        {putKeyBody("ssh-ed25519 " + base64(edBlob + "x")),
         "pubkey: key data is malformed for ssh-ed25519"},
        {putKeyBody("ssh-rsa " + base64(smallRsa)), "pubkey: key data is malformed for ssh-rsa"},
        {putKeyBody("ecdsa-sha2-nistp256 " + base64(wire("ecdsa-sha2-nistp256") + wire("nistp384") +
                                                    wire("\x04" + std::string(64, 'p')))),
         "pubkey: key data is malformed for ecdsa-sha2-nistp256"},
        {putKeyBody("sk-ssh-ed25519@openssh.com " +
                    base64(wire("sk-ssh-ed25519@openssh.com") + wire(std::string(32, 'k')))),
         "pubkey: key data is malformed for sk-ssh-ed25519@openssh.com"},
        {putKeyBody("ssh-ed25519 " + base64(wire("\x01\x02") + wire(std::string(32, 'k')))),
         "pubkey: key data is not a key, not ssh-ed25519"},
        {"{\"pubkey\":\"ssh-ed25519 " + std::string(16400, 'A') + "\"}",
         "pubkey is too long (limit 16384 bytes)"},
        {"pubkey", "body is not valid JSON"},
    };
    for (const auto& c : cases) {
        HttpResult r = putSshKey(pub(), "ssh-bad", c.body);
        EXPECT_EQ(r.status, 400) << c.body.substr(0, 200);
        EXPECT_EQ(r.body, failJson(c.message)) << c.body.substr(0, 200);
    }
    EXPECT_NE(details(pub(), "ssh-bad").body.find("\"ssh_pubkey\":null"), std::string::npos);
}

TEST_F(DevicesApiTest, SshKeyOfUnknownUnregisteredOrRevokedDeviceIsRefused) {
    HttpResult unknown = putSshKey(pub(), "ssh-nobody", putKeyBody(kEd25519));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body, failJson("Device not found"));
    enrol(admin(), "ssh-enrolled");
    HttpResult enrolled = putSshKey(pub(), "ssh-enrolled", putKeyBody(kEd25519));
    EXPECT_EQ(enrolled.status, 403);
    EXPECT_EQ(enrolled.body, failJson("Device not registered"));
    ASSERT_TRUE(enrolAndRegister(*server, "ssh-revoked"));
    ASSERT_EQ(adminRevoke(admin(), "ssh-revoked").status, 200);
    HttpResult revoked = putSshKey(pub(), "ssh-revoked", putKeyBody(kEd25519));
    EXPECT_EQ(revoked.status, 403);
    EXPECT_EQ(revoked.body, failJson("Device revoked"));
}

// ---------------------------------------------------------------------------------------------
// Revocation

TEST_F(DevicesApiTest, RevokedDeviceIsLockedOutUntilItRegistersWithANewToken) {
    ASSERT_TRUE(enrolAndRegister(*server, "rev-1", R"({"mac":"AA"})"));
    ASSERT_EQ(putSshKey(pub(), "rev-1", putKeyBody(kEd25519)).status, 200);
    HttpResult r = adminRevoke(admin(), "rev-1");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"device_key\":\"rev-1\",\"revoked\":true}");

    HttpResult beat = heartbeat(pub(), "rev-1");
    EXPECT_EQ(beat.status, 403);
    EXPECT_EQ(beat.body, failJson("Device revoked"));
    // Its old registration is gone: no token, so registering fails until the admin issues one.
    HttpResult reg = registerDevice(pub(), "rev-1", "ABCDEF");
    EXPECT_EQ(reg.status, 401);
    EXPECT_EQ(reg.body, failJson("Invalid token"));

    HttpResult shown = adminShow(admin(), "rev-1");
    auto d = parseJson(shown.body);
    ASSERT_TRUE(d);
    EXPECT_TRUE((*d)["revoked"].GetBool());
    EXPECT_FALSE((*d)["registered"].GetBool());
    EXPECT_FALSE((*d)["online"].GetBool());
    EXPECT_TRUE((*d)["registered_at"].IsNull());
    EXPECT_TRUE((*d)["ssh_pubkey"].IsNull());
    EXPECT_FALSE((*d)["token_pending"].GetBool());
    EXPECT_STREQ((*d)["device_info"]["mac"].GetString(), "AA");  // kept for the record

    // Revoking again is harmless.
    EXPECT_EQ(adminRevoke(admin(), "rev-1").body, "{\"device_key\":\"rev-1\",\"revoked\":true}");

    std::string token = newToken(admin(), "rev-1");
    EXPECT_EQ(registerDevice(pub(), "rev-1", token).body, registeredJson("rev-1"));
    EXPECT_EQ(heartbeat(pub(), "rev-1").body, okJson("Heartbeat received"));
    EXPECT_NE(details(pub(), "rev-1").body.find("\"registered\":true"), std::string::npos);
}

TEST_F(DevicesApiTest, RevokingAnEnrolledDeviceCancelsItsToken) {
    std::string token = enrol(admin(), "rev-pending");
    ASSERT_EQ(adminRevoke(admin(), "rev-pending").status, 200);
    HttpResult r = registerDevice(pub(), "rev-pending", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, failJson("Invalid token"));
}

// ---------------------------------------------------------------------------------------------
// Routing

TEST_F(DevicesApiTest, WrongMethodIs405AndUnknownPathIs404) {
    struct Case {
        std::string method;
        std::string path;
    } cases[] = {{"GET", "/api/devices/x/register"},
                 {"GET", "/api/devices/x/online"},
                 {"POST", "/api/ssh-hostkey"},
                 {"POST", "/api/devices/x/ssh-key"},
                 {"POST", "/api/devices/x"}};
    for (const auto& c : cases) {
        HttpResult r = http(c.method, pub(), c.path, "{}");
        EXPECT_EQ(r.status, 405) << c.method << " " << c.path;
        EXPECT_EQ(r.body, errorJson("method not allowed")) << c.path;
    }
    EXPECT_EQ(http("POST", pub(), "/api/devices/x/offline", "{}").status, 404);
    EXPECT_EQ(http("POST", pub(), "/api/devices//online", "{}").status, 404);
}

}  // namespace
}  // namespace switchboard::test::devices
