// The /ws signaling protocol on the real binary with real WebSocket clients: the seed's flow and
// every error string, presence per organization, signal relay, replacement of an agent, the
// reconnect grace, leaving, the operator's kick, bus events with their reasons, the Lua hook,
// and a peer that never reads while the others go on.
#include <thread>

#include "RawSocket.h"
#include "SignalingTestSupport.h"
#include "switchboard/Json.h"

using namespace switchboard::test;
using namespace switchboard::test::signaling;
namespace json = switchboard::json;

namespace {

const char* kHook = R"(
function on_peer_register(peer)
  if peer.agent_id == "blocked-agent" then
    return false, "agent blocked by policy"
  end
  return true
end
)";

class SignalingSocketTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new AuthServer(signalingPlugins(", reconnect_grace: 1s, max_agents_per_user: 25"),
                                kHook, "", [](AuthServer& s) {
                                    s.yaml = withListener(s.yaml, "public", s.ports.pub,
                                                          "websocket: { max_outbound: 64KiB }");
                                });
    }
    static void TearDownTestSuite() { delete server; }
    static int port() { return server->pub(); }

    /// An organization on `subnet` with `count` members that each have an address.
    struct Org {
        std::int64_t id = 0;
        std::vector<User> users;
    };
    static Org makeOrg(const std::string& name, const std::string& subnet, int count) {
        Org org;
        for (int i = 0; i < count; ++i) {
            org.users.push_back(makeUser(port(), name + "-" + std::to_string(i)));
        }
        org.id = createOrg(port(), org.users[0], subnet, name);
        for (int i = 0; i < count; ++i) {
            if (i > 0) {
                join(port(), org.users[i], org.id);
            }
            allocate(port(), org.users[i], org.id);
        }
        return org;
    }
    static std::string str(const rapidjson::Value& v, const char* key) {
        return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
    }

    static AuthServer* server;
};

AuthServer* SignalingSocketTest::server = nullptr;

TEST_F(SignalingSocketTest, TheSeedsFlowRegistersAnnouncesAndSaysGoodbye) {
    Org org = makeOrg("seed", "10.0.0.0/24", 2);
    Agent a(port(), org.users[0].token);
    a.send(R"({"type":"register","agent_id":"peer-device-001","public_ip":"203.0.113.1",)"
           R"("public_port":50000,"relay_ip":"203.0.113.10","relay_port":50001})");
    auto first = parse(a.next().value_or("{}"));
    ASSERT_TRUE(first.IsObject());
    EXPECT_EQ(str(first, "type"), "register_agent_response");
    EXPECT_EQ(str(first, "status"), "registered");
    EXPECT_EQ(str(first, "virtual_ip"), "10.0.0.1");
    EXPECT_EQ(str(first, "connection_id").size(), 36u);  // a UUID
    ASSERT_TRUE(first["existing_peers"].IsArray());
    EXPECT_EQ(first["existing_peers"].Size(), 0u);

    Agent b(port(), org.users[1].token, /*header=*/true);  // the token in Authorization
    auto second = b.registered("peer-device-002", R"(,"relay_ip":null,"relay_port":null)");
    EXPECT_EQ(str(second, "virtual_ip"), "10.0.0.2");
    ASSERT_EQ(second["existing_peers"].Size(), 1u);
    std::string expected = R"({"peer_id":"peer-device-001","user_id":)" +
                           std::to_string(org.users[0].id) + R"(,"email":")" + org.users[0].email +
                           R"(","agent_id":"peer-device-001","public_ip":"203.0.113.1",)"
                           R"("public_port":50000,"relay_ip":"203.0.113.10","relay_port":50001,)"
                           R"("virtual_ip":"10.0.0.1"})";
    EXPECT_EQ(json::stringify(second["existing_peers"][0]), expected);

    auto online = a.nextOf("peer_online");
    ASSERT_TRUE(online);
    EXPECT_EQ(str((*online)["peer"], "peer_id"), "peer-device-002");
    EXPECT_EQ((*online)["peer"]["user_id"].GetInt64(), org.users[1].id);
    EXPECT_EQ(str((*online)["peer"], "virtual_ip"), "10.0.0.2");
    EXPECT_TRUE((*online)["peer"]["relay_ip"].IsNull());
    EXPECT_TRUE((*online)["peer"]["relay_port"].IsNull());

    // A clean close is announced at once, with the seed's fields.
    b.closeCleanly();
    auto offline = a.nextOf("peer_offline", 900ms);  // well inside the 1 s grace
    ASSERT_TRUE(offline);
    EXPECT_EQ(json::stringify(*offline),
              R"({"type":"peer_offline","peer_id":"peer-device-002","user_id":)" +
                  std::to_string(org.users[1].id) + R"(,"virtual_ip":"10.0.0.2"})");
    EXPECT_TRUE(a.silent());
}

TEST_F(SignalingSocketTest, TokenErrorsArriveAfterTheHandshakeThenClose) {
    Agent none(port(), "");
    EXPECT_EQ(errorThenClose(none), "No token provided");
    Agent bad(port(), "not-a-token");
    EXPECT_EQ(errorThenClose(bad), "Invalid token");
    Agent badHeader(port(), "not-a-token", /*header=*/true);
    EXPECT_EQ(errorThenClose(badHeader), "Invalid token");
    // The seed documents "/ws/" too.
    Org org = makeOrg("slash", "10.0.1.0/24", 1);
    Agent slash(port(), org.users[0].token, false, "/ws/");
    auto r = slash.registered("slash-agent");
    EXPECT_EQ(str(r, "virtual_ip"), "10.0.1.1");
}

TEST_F(SignalingSocketTest, FirstMessageErrorsUseTheSeedsStrings) {
    Org org = makeOrg("first", "10.0.2.0/24", 1);
    struct Case {
        std::string message;
        std::string error;
    };
    std::vector<Case> cases = {
        {"not json", "Invalid JSON"},
        {"[1,2]", "Invalid JSON"},
        {R"({"type":"signal","to":"x","data":{}})", "First message must be register"},
        {R"({"public_ip":"1.2.3.4","public_port":1})", "First message must be register"},
        {R"({"type":"register"})", "Missing required fields: public_ip, public_port"},
        {R"({"type":"register","public_ip":"1.2.3.4"})", "Missing required fields: public_port"},
        {R"({"type":"register","public_port":5})", "Missing required fields: public_ip"},
        {R"({"type":"register","public_ip":null,"public_port":5})",
         "Missing required fields: public_ip"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":"5"})",
         "Invalid field: public_port must be an integer from 0 to 65535"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":70000})",
         "Invalid field: public_port must be an integer from 0 to 65535"},
        {R"({"type":"register","public_ip":7,"public_port":5})",
         "Invalid field: public_ip must be a non-empty string of at most 255 bytes"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":5,"agent_id":""})",
         "Invalid field: agent_id must be a non-empty string of at most 128 bytes"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":5,"relay_port":-1})",
         "Invalid field: relay_port must be an integer from 0 to 65535"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":5,"organization_id":"x"})",
         "Invalid field: organization_id must be a positive integer"},
    };
    for (const auto& c : cases) {
        Agent a(port(), org.users[0].token);
        a.send(c.message);
        EXPECT_EQ(errorThenClose(a), c.error) << c.message;
    }
}

TEST_F(SignalingSocketTest, MembershipAndAddressErrors) {
    User loner = makeUser(port(), "loner");
    Agent a(port(), loner.token);
    a.registerAgent("loner-agent");
    EXPECT_EQ(errorThenClose(a), "User not member of any organization");

    User noAddress = makeUser(port(), "no-address");
    std::int64_t id = createOrg(port(), noAddress, "10.0.3.0/24");
    Agent b(port(), noAddress.token);
    b.registerAgent("no-address-agent");
    EXPECT_EQ(errorThenClose(b), "No virtual IP allocated for user in any organization");

    Org other = makeOrg("foreign", "10.0.4.0/24", 1);
    Agent c(port(), noAddress.token);
    c.registerAgent("c", ",\"organization_id\":" + std::to_string(other.id));
    EXPECT_EQ(errorThenClose(c), "User not member of organization");
    Agent d(port(), noAddress.token);
    d.registerAgent("d", ",\"organization_id\":" + std::to_string(id));
    EXPECT_EQ(errorThenClose(d), "No virtual IP allocated for user in organization");
}

TEST_F(SignalingSocketTest, OrganizationIdChoosesAndPeerIdsAreGeneratedWithoutAgentId) {
    Org first = makeOrg("choose-1", "10.1.1.0/24", 1);
    User& u = first.users[0];
    User owner2 = makeUser(port(), "choose-2-owner");
    std::int64_t second = createOrg(port(), owner2, "10.1.2.0/24");
    allocate(port(), owner2, second);
    join(port(), u, second);
    EXPECT_EQ(allocate(port(), u, second), "10.1.2.2");

    Agent byDefault(port(), u.token);
    EXPECT_EQ(str(byDefault.registered("choose-default"), "virtual_ip"), "10.1.1.1");
    Agent chosen(port(), u.token);
    auto r = chosen.registered("choose-second", ",\"organization_id\":" + std::to_string(second));
    EXPECT_EQ(str(r, "virtual_ip"), "10.1.2.2");
    EXPECT_EQ(r["organization_id"].GetInt64(), second);

    // No agent_id: the peer id is generated (the connection id); others see agent_id null.
    Agent anonymous(port(), owner2.token);
    anonymous.send(R"({"type":"register","public_ip":"198.51.100.7","public_port":4000})");
    auto mine = parse(anonymous.next().value_or("{}"));
    std::string generated = str(mine, "peer_id");
    EXPECT_EQ(generated, str(mine, "connection_id"));
    auto seen = chosen.nextOf("peer_online");
    ASSERT_TRUE(seen);
    EXPECT_EQ(str((*seen)["peer"], "peer_id"), generated);
    EXPECT_TRUE((*seen)["peer"]["agent_id"].IsNull());
    // The agent in the first organization heard of neither.
    EXPECT_TRUE(byDefault.silent());
}

TEST_F(SignalingSocketTest, OverlappingSubnetsOfTwoOrganizationsNeverMeet) {
    Org x = makeOrg("overlap-x", "10.5.0.0/24", 2);
    Org y = makeOrg("overlap-y", "10.5.0.0/24", 2);
    Agent x0(port(), x.users[0].token);
    Agent y0(port(), y.users[0].token);
    EXPECT_EQ(str(x0.registered("x0"), "virtual_ip"), "10.5.0.1");
    auto y0r = y0.registered("y0");
    EXPECT_EQ(str(y0r, "virtual_ip"), "10.5.0.1");
    EXPECT_EQ(y0r["existing_peers"].Size(), 0u);
    Agent x1(port(), x.users[1].token);
    auto x1r = x1.registered("x1");
    ASSERT_EQ(x1r["existing_peers"].Size(), 1u);
    EXPECT_EQ(str(x1r["existing_peers"][0], "peer_id"), "x0");
    EXPECT_TRUE(x0.nextOf("peer_online").has_value());
    // A signal across organizations finds no one.
    x1.send(R"({"type":"signal","to":"y0","data":{"sdp":"offer"}})");
    EXPECT_EQ(x1.next().value_or(""), R"({"error":"Unknown peer","to":"y0"})");
    x1.closeCleanly();
    EXPECT_TRUE(x0.nextOf("peer_offline").has_value());
    EXPECT_TRUE(y0.silent());
}

TEST_F(SignalingSocketTest, SignalsRelayInsideTheOrganizationAndBadMessagesGetErrors) {
    Org org = makeOrg("relay", "10.6.0.0/24", 2);
    Agent a(port(), org.users[0].token);
    Agent b(port(), org.users[1].token);
    a.registered("relay-a");
    b.registered("relay-b");
    ASSERT_TRUE(a.nextOf("peer_online"));
    a.send(R"({"type":"signal","to":"relay-b","data":{"sdp":"v=0","candidates":[1,2]}})");
    EXPECT_EQ(b.next().value_or(""),
              R"({"type":"signal","from":"relay-a","data":{"sdp":"v=0","candidates":[1,2]}})");
    b.send(R"({"type":"signal","to":"relay-a","data":{"answer":true}})");
    EXPECT_EQ(a.next().value_or(""),
              R"({"type":"signal","from":"relay-b","data":{"answer":true}})");

    struct Case {
        std::string message;
        std::string answer;
    };
    std::vector<Case> cases = {
        {R"({"type":"signal","to":"nobody","data":{}})",
         R"({"error":"Unknown peer","to":"nobody"})"},
        {R"({"type":"signal","data":{}})", R"({"error":"Missing required fields: to"})"},
        {R"({"type":"signal"})", R"({"error":"Missing required fields: to, data"})"},
        {R"({"type":"signal","to":5,"data":{}})",
         R"({"error":"Invalid field: to must be a string"})"},
        {R"({"type":"signal","to":"relay-b","data":"x"})",
         R"({"error":"Invalid field: data must be an object"})"},
        {R"({"type":"ping"})", R"({"type":"pong"})"},
        {R"({"type":"dance"})", R"({"error":"Unknown message type","type":"dance"})"},
        {R"({"no":"type"})", R"({"error":"Missing required fields: type"})"},
        {R"({"type":"register","public_ip":"1.2.3.4","public_port":1})",
         R"({"error":"Already registered"})"},
        {"{broken", R"({"error":"Invalid JSON"})"},
    };
    for (const auto& c : cases) {
        a.send(c.message);
        EXPECT_EQ(a.next().value_or("<nothing>"), c.answer) << c.message;
    }
    // Still registered and connected after all of that.
    a.send(R"({"type":"signal","to":"relay-b","data":{"still":"here"}})");
    EXPECT_EQ(b.next().value_or(""),
              R"({"type":"signal","from":"relay-a","data":{"still":"here"}})");
    EXPECT_TRUE(b.silent());
}

TEST_F(SignalingSocketTest, MessagesSentBeforeTheAnswerAreHandledInOrder) {
    Org org = makeOrg("pipelined", "10.7.0.0/24", 1);
    Agent a(port(), org.users[0].token);
    // Register, ping and a signal to itself in one go, before the token is even checked.
    a.registerAgent("self");
    a.send(R"({"type":"ping"})");
    a.send(R"({"type":"signal","to":"self","data":{"n":1}})");
    EXPECT_EQ(str(parse(a.next().value_or("{}")), "type"), "register_agent_response");
    EXPECT_EQ(a.next().value_or(""), R"({"type":"pong"})");
    EXPECT_EQ(a.next().value_or(""), R"({"type":"signal","from":"self","data":{"n":1}})");
}

TEST_F(SignalingSocketTest, AgentsPerUserInAnOrganizationAreLimited) {
    Org org = makeOrg("many", "10.14.0.0/24", 1);
    std::vector<std::unique_ptr<Agent>> agents;
    for (int i = 0; i < 25; ++i) {
        agents.push_back(std::make_unique<Agent>(port(), org.users[0].token));
        agents.back()->registered("many-" + std::to_string(i));
    }
    Agent oneMore(port(), org.users[0].token);
    oneMore.registerAgent("many-25");
    auto refusal = parse(oneMore.next().value_or("{}"));
    EXPECT_EQ(str(refusal, "error"), "Registration failed");
    EXPECT_EQ(str(refusal, "detail"),
              "user has 25 agents registered in this organization, the limit");
    EXPECT_TRUE(oneMore.waitClosed());
    // Replacing one of them is not one more.
    Agent again(port(), org.users[0].token);
    EXPECT_EQ(str(again.registered("many-3"), "status"), "registered");
}

TEST_F(SignalingSocketTest, TheSameAgentReplacesItsOldConnectionWithoutAFlap) {
    Org org = makeOrg("replace", "10.8.0.0/24", 3);
    EventStream events(server->admin(), "peer.*");
    Agent watcher(port(), org.users[0].token);
    watcher.registered("watcher");
    Agent first(port(), org.users[1].token);
    first.registered("laptop");
    ASSERT_TRUE(watcher.nextOf("peer_online"));
    Agent second(port(), org.users[1].token);
    second.send(
        R"({"type":"register","agent_id":"laptop","public_ip":"203.0.113.9","public_port":2222})");
    auto answer = parse(second.next().value_or("{}"));
    EXPECT_EQ(str(answer, "type"), "register_agent_response");
    // The old connection is closed by the server with 4000.
    EXPECT_FALSE(first.next().has_value());
    EXPECT_TRUE(first.closed());
    EXPECT_EQ(first.closeCode(), 4000);
    // The watcher sees one peer_online with the new endpoints and no peer_offline.
    auto online = watcher.next();
    ASSERT_TRUE(online);
    auto doc = parse(*online);
    EXPECT_EQ(str(doc, "type"), "peer_online");
    EXPECT_EQ(doc["peer"]["public_port"].GetInt64(), 2222);
    EXPECT_EQ(str(doc["peer"], "public_ip"), "203.0.113.9");
    EXPECT_TRUE(watcher.silent(1500ms));  // past the grace too
    auto replaced = events.next("peer.offline", "\"reason\":\"replaced\"");
    ASSERT_TRUE(replaced);
    EXPECT_NE(replaced->data.find("\"peer_id\":\"laptop\""), std::string::npos);

    // Another user cannot take the agent id.
    Agent thief(port(), org.users[2].token);
    thief.registerAgent("laptop");
    auto refusal = parse(thief.next().value_or("{}"));
    EXPECT_EQ(str(refusal, "error"), "Registration failed");
    EXPECT_FALSE(thief.next().has_value());
    EXPECT_EQ(thief.closeCode(), 1008);
    EXPECT_TRUE(second.silent());
}

TEST_F(SignalingSocketTest, ADroppedConnectionIsAnnouncedAfterTheGraceUnlessTheAgentReturns) {
    Org org = makeOrg("grace", "10.9.0.0/24", 2);
    EventStream events(server->admin(), "peer.*");
    Agent watcher(port(), org.users[0].token);
    watcher.registered("grace-watcher");

    // Dropped and back within the grace (1 s): one peer_online with the new endpoints, no
    // offline.
    auto away = std::make_unique<Agent>(port(), org.users[1].token);
    away->registered("roamer");
    ASSERT_TRUE(watcher.nextOf("peer_online"));
    away->drop();
    Agent back(port(), org.users[1].token);
    back.send(
        R"({"type":"register","agent_id":"roamer","public_ip":"203.0.113.1","public_port":2000})");
    EXPECT_EQ(str(parse(back.next().value_or("{}")), "type"), "register_agent_response");
    auto online = watcher.next();
    ASSERT_TRUE(online);
    EXPECT_EQ(str(parse(*online), "type"), "peer_online");
    EXPECT_EQ(parse(*online)["peer"]["public_port"].GetInt64(), 2000);
    EXPECT_TRUE(watcher.silent(1500ms));

    // Dropped for good: nothing at once, peer_offline once the grace ran out.
    back.drop();
    EXPECT_TRUE(watcher.silent(300ms));
    auto offline = watcher.nextOf("peer_offline", 5000ms);
    ASSERT_TRUE(offline);
    EXPECT_EQ(str(*offline, "peer_id"), "roamer");
    auto event = events.next("peer.offline", "\"reason\":\"dropped\"");
    ASSERT_TRUE(event);
    EXPECT_NE(event->data.find("\"peer_id\":\"roamer\""), std::string::npos);
}

TEST_F(SignalingSocketTest, LeavingTheOrganizationAndTheOperatorsKickEndThePeer) {
    Org org = makeOrg("leave", "10.10.0.0/24", 3);
    EventStream events(server->admin(), "peer.*");
    Agent watcher(port(), org.users[0].token);
    watcher.registered("leave-watcher");
    Agent leaver(port(), org.users[1].token);
    leaver.registered("leaver");
    Agent kicked(port(), org.users[2].token);
    kicked.registered("kicked");
    ASSERT_TRUE(watcher.nextOf("peer_online"));
    ASSERT_TRUE(watcher.nextOf("peer_online"));

    auto r = api("POST", port(), "/organizations/" + std::to_string(org.id) + "/leave",
                 org.users[1].token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(leaver.waitClosed());
    EXPECT_EQ(leaver.closeCode(), 1000);
    auto gone = watcher.nextOf("peer_offline");
    ASSERT_TRUE(gone);
    EXPECT_EQ(str(*gone, "peer_id"), "leaver");
    EXPECT_TRUE(events.next("peer.offline", "\"reason\":\"left\""));

    auto adminCall = [&](const std::string& method, const std::string& path) {
        return http(method, server->admin(), "/admin/api/signaling" + path, "",
                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    };
    auto peers = adminCall("GET", "/peers?organization_id=" + std::to_string(org.id));
    ASSERT_EQ(peers.status, 200) << peers.body;
    auto listed = parse(peers.body);
    EXPECT_EQ(listed["total"].GetInt64(), 2);
    ASSERT_EQ(listed["items"].Size(), 2u);
    EXPECT_EQ(str(listed["items"][0]["peer"], "peer_id"), "kicked");
    EXPECT_TRUE(listed["items"][0]["connected"].GetBool());
    EXPECT_EQ(str(listed["items"][0], "remote_address"), "127.0.0.1");

    auto kick = adminCall("DELETE", "/peers/" + std::to_string(org.id) + "/kicked");
    EXPECT_EQ(kick.status, 200) << kick.body;
    EXPECT_TRUE(kicked.waitClosed());
    EXPECT_EQ(kicked.closeCode(), 4001);
    auto kickedOff = watcher.nextOf("peer_offline");
    ASSERT_TRUE(kickedOff);
    EXPECT_EQ(str(*kickedOff, "peer_id"), "kicked");
    auto audit = http("GET", server->admin(), "/admin/api/audit?action=peer.kicked", "",
                      {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(audit.body.find("\"actor\":\"admin\",\"address\":\"127.0.0.1\",\"action\":"
                              "\"peer.kicked\",\"detail\":{\"organization_id\":" +
                              std::to_string(org.id) + ",\"peer_id\":\"kicked\"}}"),
              std::string::npos)
        << audit.body;
    EXPECT_EQ(adminCall("DELETE", "/peers/" + std::to_string(org.id) + "/kicked").status, 404);
    EXPECT_EQ(adminCall("GET", "/peers?organization_id=x").status, 400);
    EXPECT_EQ(
        parse(adminCall("GET", "/peers?organization_id=" + std::to_string(org.id)).body)["total"]
            .GetInt64(),
        1);
}

TEST_F(SignalingSocketTest, DeletingTheAccountClosesItsAgentsAndForgetsItsMemberships) {
    Org org = makeOrg("deleted", "10.15.0.0/24", 2);
    Agent watcher(port(), org.users[0].token);
    watcher.registered("deleted-watcher");
    Agent doomed(port(), org.users[1].token);
    doomed.registered("doomed");
    ASSERT_TRUE(watcher.nextOf("peer_online"));
    auto r = api("DELETE", port(), "/account", org.users[1].token,
                 R"({"current_password":"password123"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(doomed.waitClosed());
    auto off = watcher.nextOf("peer_offline");
    ASSERT_TRUE(off);
    EXPECT_EQ(str(*off, "peer_id"), "doomed");
    // Its membership and address are gone: the address is free for the next member.
    auto members = parse(api("GET", port(), "/organizations/" + std::to_string(org.id) + "/members",
                             org.users[0].token)
                             .body);
    ASSERT_TRUE(members.IsArray());
    EXPECT_EQ(members.Size(), 1u);
    User next = makeUser(port(), "deleted-next");
    join(port(), next, org.id);
    EXPECT_EQ(allocate(port(), next, org.id), "10.15.0.2");
}

TEST_F(SignalingSocketTest, BusEventsCarryTheOrganizationAndTheReason) {
    Org org = makeOrg("events", "10.11.0.0/24", 1);
    EventStream events(server->admin(), "peer.*");
    {
        Agent a(port(), org.users[0].token);
        a.registered("evented");
        auto online = events.next("peer.online", "\"peer_id\":\"evented\"");
        ASSERT_TRUE(online);
        EXPECT_NE(online->data.find("\"organization_id\":" + std::to_string(org.id)),
                  std::string::npos);
        EXPECT_NE(online->data.find("\"virtual_ip\":\"10.11.0.1\""), std::string::npos);
        a.closeCleanly();
    }
    auto offline = events.next("peer.offline", "\"peer_id\":\"evented\"");
    ASSERT_TRUE(offline);
    EXPECT_NE(offline->data.find("\"reason\":\"closed\""), std::string::npos) << offline->data;
}

TEST_F(SignalingSocketTest, TheLuaHookRefusesWithItsReason) {
    Org org = makeOrg("hook", "10.12.0.0/24", 1);
    Agent refused(port(), org.users[0].token);
    refused.registerAgent("blocked-agent");
    EXPECT_EQ(errorThenClose(refused), "agent blocked by policy");
    Agent allowed(port(), org.users[0].token);
    EXPECT_EQ(str(allowed.registered("allowed-agent"), "status"), "registered");
}

TEST_F(SignalingSocketTest, APeerThatNeverReadsIsDroppedWhileTheOthersGoOn) {
    Org org = makeOrg("never", "10.13.0.0/24", 2);
    EventStream events(server->admin(), "peer.offline");
    // Twenty readers, a sender, and a peer that registers and then never reads again.
    std::vector<std::unique_ptr<Agent>> readers;
    for (int i = 0; i < 20; ++i) {
        readers.push_back(std::make_unique<Agent>(port(), org.users[0].token));
        readers.back()->registered("reader-" + std::to_string(i));
    }
    Agent sender(port(), org.users[0].token);
    sender.registered("sender");
    RawWebSocket sleeper =
        openRawWebSocket(port(), "/ws?token=" + org.users[1].token, /*receiveBuffer=*/4096);
    sleeper.socket.send(clientFrame(
        R"({"type":"register","agent_id":"sleeper","public_ip":"1.2.3.4","public_port":9})"));
    std::string got = sleeper.socket.readUntil("register_agent_response", 5000ms);
    ASSERT_NE(got.find("register_agent_response"), std::string::npos) << got;

    // 60 KB signals to the sleeper: far more than its socket buffers and the 64 KiB queue.
    std::string big =
        R"({"type":"signal","to":"sleeper","data":{"blob":")" + std::string(60000, 'x') + "\"}}";
    for (int i = 0; i < 150 && !sleeper.socket.peerHungUp(); ++i) {
        sender.send(big);
    }
    auto dropped = events.next("peer.offline", "\"peer_id\":\"sleeper\"");
    ASSERT_TRUE(dropped);
    EXPECT_NE(dropped->data.find("\"reason\":\"dropped\""), std::string::npos) << dropped->data;
    // Every reader heard of the sleeper (online and offline), then of a newcomer.
    Agent newcomer(port(), org.users[1].token);
    newcomer.registered("newcomer");
    for (auto& r : readers) {
        auto off = r->nextOf("peer_offline");
        ASSERT_TRUE(off);
        EXPECT_EQ(str(*off, "peer_id"), "sleeper");
        auto on = r->nextOf("peer_online");
        ASSERT_TRUE(on);
        EXPECT_EQ(str((*on)["peer"], "peer_id"), "newcomer");
    }
}

}  // namespace

namespace {

TEST(SignalingHookTest, ExampleHookFromThePluginFolderWorks) {
    std::string script =
        std::string(SB_SOURCE_DIR) + "/plugins/signaling/hooks/on_peer_register.lua";
    AuthServer server(signalingPlugins(), "", "lua: { scripts: [" + script + "] }\n");
    ASSERT_TRUE(server.ready);
    User u = makeUser(server.pub(), "example-hook");
    std::int64_t id = createOrg(server.pub(), u, "10.20.0.0/24");
    allocate(server.pub(), u, id);
    Agent refused(server.pub(), u.token);
    refused.send(R"({"type":"register","agent_id":"a","public_ip":"192.0.2.8","public_port":1})");
    EXPECT_EQ(errorThenClose(refused), "public_ip 192.0.2.8 is not accepted");
    Agent accepted(server.pub(), u.token);
    auto r = accepted.registered("good-agent");
    EXPECT_EQ(r["virtual_ip"], "10.20.0.1");
    EXPECT_TRUE(server.process->waitForLog("agent good-agent of user " + std::to_string(u.id) +
                                           " joins organization " + std::to_string(id) +
                                           " from 127.0.0.1"))
        << server.log();
}

}  // namespace

namespace {

TEST(SignalingTimeoutTest, APeerThatAnswersNoPingTimesOutAndIsAnnouncedAtOnce) {
    AuthServer server(signalingPlugins(), "", "", [](AuthServer& s) {
        s.yaml = withListener(s.yaml, "public", s.ports.pub,
                              "websocket: { ping_interval: 1s, idle_timeout: 3s }");
    });
    ASSERT_TRUE(server.ready);
    User a = makeUser(server.pub(), "timeout-a");
    User b = makeUser(server.pub(), "timeout-b");
    std::int64_t id = createOrg(server.pub(), a, "10.30.0.0/24");
    join(server.pub(), b, id);
    allocate(server.pub(), a, id);
    allocate(server.pub(), b, id);
    EventStream events(server.admin(), "peer.offline");
    Agent watcher(server.pub(), a.token);  // answers every ping while it reads
    watcher.registered("awake");
    RawWebSocket mute = openRawWebSocket(server.pub(), "/ws?token=" + b.token);
    mute.socket.send(clientFrame(
        R"({"type":"register","agent_id":"asleep","public_ip":"1.2.3.4","public_port":9})"));
    ASSERT_NE(mute.socket.readUntil("register_agent_response", 5000ms).find("register_agent"),
              std::string::npos);
    // The watcher hears of it, then of its end: idle_timeout, no grace (it was not lost).
    auto online = watcher.nextOf("peer_online");
    ASSERT_TRUE(online);
    auto offline = watcher.nextOf("peer_offline", 8000ms);
    ASSERT_TRUE(offline);
    EXPECT_EQ(std::string((*offline)["peer_id"].GetString()), "asleep");
    auto event = events.next("peer.offline", "\"peer_id\":\"asleep\"");
    ASSERT_TRUE(event);
    EXPECT_NE(event->data.find("\"reason\":\"timeout\""), std::string::npos) << event->data;
    // The watcher, which answered the pings, is still registered.
    watcher.send(R"({"type":"ping"})");
    EXPECT_EQ(watcher.nextOf("pong").has_value(), true);
}

}  // namespace
