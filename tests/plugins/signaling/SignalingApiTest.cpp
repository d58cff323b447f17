// The signaling REST API on the real binary: organizations, membership, virtual IP allocation
// (order, idempotence, exhaustion, release, overlapping subnets), every documented error, the
// admin routes for organizations, and durability across kill -9.
#include "SignalingTestSupport.h"

using namespace switchboard::test;
using namespace switchboard::test::signaling;

namespace {

/// A well-formed token for `user` signed with a key the server does not have.
std::string forgedToken(std::int64_t user) {
    std::int64_t now = auth::epochSeconds();
    return auth::forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", auth::claims(user, now, now + 3600),
                       "another-secret-0123456789abcdef0123456789");
}

class SignalingApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new AuthServer(signalingPlugins(", max_organizations_per_user: 3"));
        owner = new User(makeUser(server->pub(), "owner"));
        other = new User(makeUser(server->pub(), "other"));
    }
    static void TearDownTestSuite() {
        delete other;
        delete owner;
        delete server;
    }
    static int port() { return server->pub(); }
    static std::string orgPath(std::int64_t id, const std::string& tail) {
        return "/organizations/" + std::to_string(id) + tail;
    }
    static std::string error(const HttpResult& r) { return auth::jsonString(r.body, "error"); }

    static AuthServer* server;
    static User* owner;
    static User* other;
};

AuthServer* SignalingApiTest::server = nullptr;
User* SignalingApiTest::owner = nullptr;
User* SignalingApiTest::other = nullptr;

TEST_F(SignalingApiTest, CreateListJoinAndMembers) {
    User a = makeUser(port(), "create-a");
    User b = makeUser(port(), "create-b");
    auto r = api("POST", port(), "/organizations", a.token,
                 "{\"name\": \"My Organization\", \"subnet\": \"10.0.0.0/24\"}");
    ASSERT_EQ(r.status, 200) << r.body;
    auto org = parse(r.body);
    ASSERT_TRUE(org.IsObject());
    std::int64_t id = org["id"].GetInt64();
    EXPECT_GT(id, 0);
    EXPECT_EQ(std::string(org["name"].GetString()), "My Organization");
    EXPECT_EQ(std::string(org["subnet"].GetString()), "10.0.0.0/24");
    EXPECT_EQ(org["owner_id"].GetInt64(), a.id);

    // Each caller sees their own organizations only.
    auto mine = parse(api("GET", port(), "/organizations", a.token).body);
    ASSERT_TRUE(mine.IsArray());
    ASSERT_EQ(mine.Size(), 1u);
    EXPECT_EQ(mine[0]["id"].GetInt64(), id);
    auto theirs = parse(api("GET", port(), "/organizations", b.token).body);
    ASSERT_TRUE(theirs.IsArray());
    EXPECT_EQ(theirs.Size(), 0u);

    r = api("POST", port(), orgPath(id, "/join"), b.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(auth::jsonString(r.body, "message"), "Joined organization");
    EXPECT_EQ(auth::jsonInt(r.body, "organization_id"), id);
    r = api("POST", port(), orgPath(id, "/join"), b.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(auth::jsonString(r.body, "message"), "Already a member");
    theirs = parse(api("GET", port(), "/organizations", b.token).body);
    ASSERT_EQ(theirs.Size(), 1u);
    EXPECT_EQ(theirs[0]["id"].GetInt64(), id);

    r = api("GET", port(), orgPath(id, "/members"), b.token);
    ASSERT_EQ(r.status, 200) << r.body;
    auto members = parse(r.body);
    ASSERT_TRUE(members.IsArray());
    ASSERT_EQ(members.Size(), 2u);
    EXPECT_EQ(members[0]["user_id"].GetInt64(), a.id);
    EXPECT_EQ(std::string(members[0]["email"].GetString()), a.email);
    EXPECT_TRUE(members[0]["is_owner"].GetBool());
    EXPECT_TRUE(members[0]["virtual_ip"].IsNull());
    EXPECT_EQ(members[1]["user_id"].GetInt64(), b.id);
    EXPECT_FALSE(members[1]["is_owner"].GetBool());
}

TEST_F(SignalingApiTest, SubnetsAndNamesAreValidated) {
    User u = makeUser(port(), "validate");
    auto create = [&](const std::string& body) {
        return api("POST", port(), "/organizations", u.token, body);
    };
    struct Case {
        std::string body;
        std::string error;
    };
    std::vector<Case> cases = {
        {"{\"name\":\"x\",\"subnet\":\"10.0.0.1/24\"}",
         "subnet 10.0.0.1/24 has host bits set (the network is 10.0.0.0/24)"},
        {"{\"name\":\"x\",\"subnet\":\"fd00::/64\"}",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24, not IPv6"},
        {"{\"name\":\"x\",\"subnet\":\"10.0.0.0\"}",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the /prefix is missing)"},
        {"{\"name\":\"x\",\"subnet\":\"10.0.0.0/7\"}",
         "subnet prefix must be between /8 and /30, got /7"},
        {"{\"name\":\"x\",\"subnet\":\"10.0.0.0/31\"}",
         "subnet prefix must be between /8 and /30, got /31"},
        {"{\"name\":\"x\",\"subnet\":\"10.0.256.0/24\"}",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the address is not a dotted quad)"},
        {"{\"name\":\"x\",\"subnet\":\"010.0.0.0/24\"}",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the address is not a dotted quad)"},
        {"{\"name\":\"x\",\"subnet\":\"10.0.0.0/2x\"}",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the prefix is not a number from 8 to "
         "30)"},
        {"{\"name\":\"x\",\"subnet\":\"\"}", "subnet must not be empty"},
        {"{\"name\":\"x\"}", "missing key: subnet"},
        {"{\"name\":\"x\",\"subnet\":24}", "subnet must be a string"},
        {"{\"name\":\"x\",\"subnet\":null}", "missing key: subnet"},
        {"{\"subnet\":\"10.0.0.0/24\"}", "missing key: name"},
        {"{\"name\":\"\",\"subnet\":\"10.0.0.0/24\"}", "name must not be empty"},
        {"{\"name\":\"" + std::string(129, 'n') + "\",\"subnet\":\"10.0.0.0/24\"}",
         "name is too long (limit 128 bytes)"},
        {"not json", "body is not valid JSON"},
        {"[1]", "body must be a JSON object"},
        {"{\"name\":\"\xff\",\"subnet\":\"10.0.0.0/24\"}", "name is not valid UTF-8"},
    };
    for (const auto& c : cases) {
        auto r = create(c.body);
        EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
        EXPECT_EQ(error(r), c.error) << c.body;
        EXPECT_EQ(auth::jsonString(r.body, "detail"), c.error) << c.body;
    }
    // The edges of the allowed prefixes are accepted; nothing was created above.
    EXPECT_EQ(parse(api("GET", port(), "/organizations", u.token).body).Size(), 0u);
    EXPECT_GT(createOrg(port(), u, "10.0.0.0/8"), 0);
    EXPECT_GT(createOrg(port(), u, "192.168.7.4/30"), 0);
}

TEST_F(SignalingApiTest, EveryRouteNeedsAValidToken) {
    std::int64_t id = createOrg(port(), *owner, "10.1.0.0/24");
    std::vector<std::pair<std::string, std::string>> routes = {
        {"POST", "/organizations"},       {"GET", "/organizations"},
        {"POST", orgPath(id, "/join")},   {"POST", orgPath(id, "/leave")},
        {"GET", orgPath(id, "/members")}, {"POST", orgPath(id, "/allocate_ip")},
        {"GET", orgPath(id, "/ips")},
    };
    for (const auto& [method, path] : routes) {
        auto none = api(method, port(), path, "", "{}");
        EXPECT_EQ(none.status, 401) << method << " " << path;
        EXPECT_EQ(error(none), "No token provided") << method << " " << path;
        auto bad = api(method, port(), path, "not.a.jwt", "{}");
        EXPECT_EQ(bad.status, 401) << method << " " << path;
        EXPECT_EQ(error(bad), "Invalid token") << method << " " << path;
        // Signed with another key.
        auto forged = api(method, port(), path, forgedToken(owner->id), "{}");
        EXPECT_EQ(forged.status, 401) << method << " " << path;
    }
}

TEST_F(SignalingApiTest, UnknownOrganizationIs404AndStrangersGet403) {
    std::int64_t id = createOrg(port(), *owner, "10.2.0.0/24");
    for (const std::string& path :
         {std::string("/organizations/999999/join"), std::string("/organizations/999999/leave"),
          std::string("/organizations/999999/allocate_ip"), std::string("/organizations/abc/join"),
          std::string("/organizations/-1/join")}) {
        auto r = api("POST", port(), path, other->token, "{}");
        EXPECT_EQ(r.status, 404) << path << " " << r.body;
        EXPECT_EQ(error(r), "Organization not found") << path;
    }
    for (const std::string& path :
         {std::string("/organizations/999999/members"), std::string("/organizations/999999/ips")}) {
        auto r = api("GET", port(), path, other->token);
        EXPECT_EQ(r.status, 404) << path;
    }
    // `other` is not a member of `id`.
    for (const auto& [method, tail] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/members"}, {"GET", "/ips"}, {"POST", "/allocate_ip"}, {"POST", "/leave"}}) {
        auto r = api(method, port(), orgPath(id, tail), other->token, "{}");
        EXPECT_EQ(r.status, 403) << tail << " " << r.body;
        EXPECT_EQ(error(r), "Not a member of this organization") << tail;
    }
    auto r = api("POST", port(), orgPath(id, "/allocate_ip"), owner->token, "not json");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error(r), "body is not valid JSON");
}

TEST_F(SignalingApiTest, AllocationIsLowestFreeIdempotentExhaustibleAndReleasedOnLeave) {
    User a = makeUser(port(), "alloc-a");
    User b = makeUser(port(), "alloc-b");
    User c = makeUser(port(), "alloc-c");
    // A /29: hosts .1 to .6; .0 and .7 are never given.
    std::int64_t id = createOrg(port(), a, "10.9.0.0/29");
    std::vector<User> users = {a, b, c};
    for (int i = 0; i < 3; ++i) {
        users.push_back(makeUser(port(), "alloc-" + std::to_string(i)));
    }
    for (std::size_t i = 1; i < users.size(); ++i) {
        join(port(), users[i], id);
    }
    for (std::size_t i = 0; i < users.size(); ++i) {
        EXPECT_EQ(allocate(port(), users[i], id), "10.9.0." + std::to_string(i + 1));
    }
    // Idempotent per user and organization.
    auto again = api("POST", port(), orgPath(id, "/allocate_ip"), b.token, "{}");
    EXPECT_EQ(auth::jsonString(again.body, "virtual_ip"), "10.9.0.2");
    EXPECT_EQ(again.body.find("\"created\":false") != std::string::npos, true) << again.body;
    // Exhausted: the seventh member gets 409.
    User late = makeUser(port(), "alloc-late");
    join(port(), late, id);
    auto full = api("POST", port(), orgPath(id, "/allocate_ip"), late.token, "{}");
    EXPECT_EQ(full.status, 409) << full.body;
    EXPECT_EQ(error(full), "No free IP address left in subnet 10.9.0.0/29");

    // b leaves: its address is free again and goes to the next caller, lowest first.
    auto left = api("POST", port(), orgPath(id, "/leave"), b.token);
    ASSERT_EQ(left.status, 200) << left.body;
    EXPECT_EQ(auth::jsonString(left.body, "message"), "Left organization");
    auto ips = parse(api("GET", port(), orgPath(id, "/ips"), a.token).body);
    ASSERT_TRUE(ips.IsArray());
    ASSERT_EQ(ips.Size(), 5u);
    EXPECT_EQ(std::string(ips[0]["virtual_ip"].GetString()), "10.9.0.1");
    EXPECT_EQ(std::string(ips[1]["virtual_ip"].GetString()), "10.9.0.3");
    EXPECT_EQ(std::string(ips[0]["email"].GetString()), a.email);
    EXPECT_EQ(allocate(port(), late, id), "10.9.0.2");
    // b is no member any more.
    EXPECT_EQ(api("GET", port(), orgPath(id, "/ips"), b.token).status, 403);
    EXPECT_EQ(parse(api("GET", port(), "/organizations", b.token).body).Size(), 0u);
}

TEST_F(SignalingApiTest, OrganizationsAreSeparateAddressSpaces) {
    User x = makeUser(port(), "space-x");
    User y = makeUser(port(), "space-y");
    std::int64_t one = createOrg(port(), x, "10.50.0.0/24");
    std::int64_t two = createOrg(port(), y, "10.50.0.0/24");
    ASSERT_NE(one, two);
    EXPECT_EQ(allocate(port(), x, one), "10.50.0.1");
    EXPECT_EQ(allocate(port(), y, two), "10.50.0.1");
    // One user in both gets an address in each.
    join(port(), x, two);
    EXPECT_EQ(allocate(port(), x, two), "10.50.0.2");
    EXPECT_EQ(allocate(port(), x, one), "10.50.0.1");
}

TEST_F(SignalingApiTest, OrganizationsPerUserAreLimited) {
    User u = makeUser(port(), "limit");
    for (int i = 0; i < 3; ++i) {
        createOrg(port(), u, "10.60." + std::to_string(i) + ".0/24");
    }
    auto r = api("POST", port(), "/organizations", u.token,
                 "{\"name\":\"fourth\",\"subnet\":\"10.60.9.0/24\"}");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(error(r), "Organization limit reached (3 per user)");
}

TEST_F(SignalingApiTest, AdminListsShowsAndDeletesOrganizations) {
    User u = makeUser(port(), "admin-view");
    std::int64_t id = createOrg(port(), u, "10.70.0.0/24", "Viewed");
    allocate(port(), u, id);
    auto adminCall = [&](const std::string& method, const std::string& path) {
        return http(method, server->admin(), "/admin/api/signaling" + path, "",
                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    };
    auto list = adminCall("GET", "/organizations?limit=1000");
    ASSERT_EQ(list.status, 200) << list.body;
    auto doc = parse(list.body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_GE(doc["total"].GetInt64(), 1);
    bool found = false;
    for (const auto& item : doc["items"].GetArray()) {
        if (item["id"].GetInt64() == id) {
            found = true;
            EXPECT_EQ(std::string(item["name"].GetString()), "Viewed");
            EXPECT_EQ(item["members"].GetInt64(), 1);
            EXPECT_EQ(item["online"].GetInt64(), 0);
        }
    }
    EXPECT_TRUE(found) << list.body;
    auto page = parse(adminCall("GET", "/organizations?limit=1&offset=0").body);
    EXPECT_EQ(page["items"].Size(), 1u);
    EXPECT_EQ(page["total"].GetInt64(), doc["total"].GetInt64());
    EXPECT_EQ(adminCall("GET", "/organizations?limit=0").body,
              "{\"error\":\"limit must be an integer from 1 to 1000\"}");
    EXPECT_EQ(adminCall("GET", "/organizations?offset=x").body,
              "{\"error\":\"offset must be a non-negative integer\"}");
    // q matches the name, ignoring case.
    auto named = parse(adminCall("GET", "/organizations?q=vIEWED").body);
    ASSERT_TRUE(named.IsObject());
    ASSERT_GE(named["items"].Size(), 1u);
    EXPECT_EQ(named["total"].GetInt64(), static_cast<std::int64_t>(named["items"].Size()));
    for (const auto& item : named["items"].GetArray()) {
        EXPECT_NE(std::string(item["name"].GetString()).find("Viewed"), std::string::npos);
    }
    auto none = parse(adminCall("GET", "/organizations?q=no-org-is-called-this").body);
    EXPECT_EQ(none["total"].GetInt64(), 0);
    EXPECT_EQ(none["items"].Size(), 0u);

    auto show = adminCall("GET", "/organizations/" + std::to_string(id));
    ASSERT_EQ(show.status, 200) << show.body;
    auto shown = parse(show.body);
    ASSERT_EQ(shown["members"].Size(), 1u);
    EXPECT_EQ(std::string(shown["members"][0]["virtual_ip"].GetString()), "10.70.0.1");
    EXPECT_EQ(adminCall("GET", "/organizations/999999").status, 404);

    auto del = adminCall("DELETE", "/organizations/" + std::to_string(id));
    EXPECT_EQ(del.status, 200) << del.body;
    auto audit = http("GET", server->admin(), "/admin/api/audit?action=organization.deleted", "",
                      {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_NE(audit.body.find("\"action\":\"organization.deleted\",\"detail\":{"
                              "\"organization_id\":" +
                              std::to_string(id) + "}}"),
              std::string::npos)
        << audit.body;
    EXPECT_EQ(adminCall("GET", "/organizations/" + std::to_string(id)).status, 404);
    EXPECT_EQ(adminCall("DELETE", "/organizations/" + std::to_string(id)).status, 404);
    EXPECT_EQ(api("POST", port(), orgPath(id, "/join"), u.token).status, 404);
    EXPECT_EQ(parse(api("GET", port(), "/organizations", u.token).body).Size(), 0u);
    // Admin routes need the admin token.
    EXPECT_EQ(http("GET", server->admin(), "/admin/api/signaling/organizations").status, 401);
}

TEST(SignalingDurability, KillNineKeepsOrganizationsMembersAndAddresses) {
    AuthServer server(signalingPlugins());
    User a = makeUser(server.pub(), "durable-a");
    User b = makeUser(server.pub(), "durable-b");
    std::int64_t id = createOrg(server.pub(), a, "172.16.0.0/16");
    join(server.pub(), b, id);
    EXPECT_EQ(allocate(server.pub(), a, id), "172.16.0.1");
    EXPECT_EQ(allocate(server.pub(), b, id), "172.16.0.2");
    server.restart(SIGKILL);
    ASSERT_TRUE(server.ready);
    auto ips = parse(
        api("GET", server.pub(), "/organizations/" + std::to_string(id) + "/ips", a.token).body);
    ASSERT_TRUE(ips.IsArray());
    ASSERT_EQ(ips.Size(), 2u);
    EXPECT_EQ(std::string(ips[1]["virtual_ip"].GetString()), "172.16.0.2");
    EXPECT_EQ(ips[1]["user_id"].GetInt64(), b.id);
    auto mine = parse(api("GET", server.pub(), "/organizations", b.token).body);
    ASSERT_EQ(mine.Size(), 1u);
    EXPECT_EQ(std::string(mine[0]["subnet"].GetString()), "172.16.0.0/16");
    // Allocation goes on from where it was.
    User c = makeUser(server.pub(), "durable-c");
    join(server.pub(), c, id);
    EXPECT_EQ(allocate(server.pub(), c, id), "172.16.0.3");
}

}  // namespace

namespace {

TEST(SignalingJoinPolicyTest, TheOwnerAddsMembersAndWithPolicyOwnerNobodyElseJoins) {
    AuthServer server(signalingPlugins(", join_policy: owner"));
    User owner = makeUser(server.pub(), "policy-owner");
    User guest = makeUser(server.pub(), "policy-guest");
    User third = makeUser(server.pub(), "policy-third");
    std::int64_t id = createOrg(server.pub(), owner, "10.80.0.0/24");
    std::string base = "/organizations/" + std::to_string(id);
    auto refused = api("POST", server.pub(), base + "/join", guest.token);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(auth::jsonString(refused.body, "error"),
              "Only the owner adds members to this organization");

    auto added = api("POST", server.pub(), base + "/members", owner.token,
                     "{\"email\":\"" + guest.email + "\"}");
    ASSERT_EQ(added.status, 200) << added.body;
    EXPECT_EQ(auth::jsonString(added.body, "message"), "Member added");
    EXPECT_EQ(auth::jsonInt(added.body, "user_id"), guest.id);
    // A member joining again is harmless; it may allocate now.
    EXPECT_EQ(api("POST", server.pub(), base + "/join", guest.token).status, 200);
    EXPECT_EQ(allocate(server.pub(), guest, id), "10.80.0.1");

    auto byId = api("POST", server.pub(), base + "/members", owner.token,
                    "{\"user_id\":" + std::to_string(third.id) + "}");
    EXPECT_EQ(byId.status, 200) << byId.body;
    auto again = api("POST", server.pub(), base + "/members", owner.token,
                     "{\"user_id\":" + std::to_string(third.id) + "}");
    EXPECT_EQ(auth::jsonString(again.body, "message"), "Already a member");

    EXPECT_EQ(api("POST", server.pub(), base + "/members", guest.token,
                  "{\"user_id\":" + std::to_string(third.id) + "}")
                  .status,
              403);
    auto unknown = api("POST", server.pub(), base + "/members", owner.token,
                       "{\"email\":\"nobody@example.com\"}");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(auth::jsonString(unknown.body, "error"), "User not found");
    auto empty = api("POST", server.pub(), base + "/members", owner.token, "{}");
    EXPECT_EQ(empty.status, 400);
    EXPECT_EQ(auth::jsonString(empty.body, "error"), "user_id or email is required");
    auto badType = api("POST", server.pub(), base + "/members", owner.token, "{\"user_id\":\"x\"}");
    EXPECT_EQ(badType.status, 400);
    EXPECT_EQ(auth::jsonString(badType.body, "error"), "user_id must be an integer");
    EXPECT_EQ(
        api("POST", server.pub(), "/organizations/99999/members", owner.token, "{\"user_id\":1}")
            .status,
        404);
    auto members = parse(api("GET", server.pub(), base + "/members", owner.token).body);
    EXPECT_EQ(members.Size(), 3u);
}

}  // namespace
