// Unit tests of the route table: exact and {param} matching, 404 vs 405, conflicts.
#include <gtest/gtest.h>

#include "net/Router.h"

using namespace switchboard;

namespace {
RouteEntry route(const std::string& method, const std::string& path, const std::string& owner) {
    RouteEntry e;
    e.method = method;
    e.pattern = path;
    e.owner = owner;
    e.handler = [](const HttpRequest&, HttpResponse&) {};
    return e;
}
}  // namespace

TEST(RouterTest, MatchesExactPathsByMethod) {
    RouteTable table("public");
    table.add(route("POST", "/register_server", "pairing"));
    table.add(route("GET", "/register_server", "other"));
    RouteParams params;
    auto m = table.match("POST", "/register_server", params);
    ASSERT_NE(m.entry, nullptr);
    EXPECT_EQ(m.entry->owner, "pairing");
    m = table.match("GET", "/register_server", params);
    ASSERT_NE(m.entry, nullptr);
    EXPECT_EQ(m.entry->owner, "other");
}

TEST(RouterTest, ExtractsParams) {
    RouteTable table("public");
    table.add(route("POST", "/api/devices/{key}/register", "devices"));
    table.add(route("GET", "/api/devices/{key}", "devices"));
    RouteParams params;
    auto m = table.match("POST", "/api/devices/abc-123/register", params);
    ASSERT_NE(m.entry, nullptr);
    EXPECT_EQ(m.entry->pattern, "/api/devices/{key}/register");
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].first, "key");
    EXPECT_EQ(params[0].second, "abc-123");

    params.clear();
    m = table.match("GET", "/api/devices/xyz", params);
    ASSERT_NE(m.entry, nullptr);
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].second, "xyz");
}

TEST(RouterTest, DistinguishesUnknownPathFromWrongMethod) {
    RouteTable table("public");
    table.add(route("POST", "/login", "auth"));
    table.add(route("GET", "/items/{id}", "x"));
    RouteParams params;
    auto m = table.match("GET", "/login", params);
    EXPECT_EQ(m.entry, nullptr);
    EXPECT_TRUE(m.pathKnown);
    m = table.match("DELETE", "/items/4", params);
    EXPECT_EQ(m.entry, nullptr);
    EXPECT_TRUE(m.pathKnown);
    m = table.match("POST", "/logout", params);
    EXPECT_EQ(m.entry, nullptr);
    EXPECT_FALSE(m.pathKnown);
}

TEST(RouterTest, ParamsNeverMatchEmptyOrExtraSegments) {
    RouteTable table("public");
    table.add(route("GET", "/items/{id}", "x"));
    RouteParams params;
    EXPECT_EQ(table.match("GET", "/items/", params).entry, nullptr);
    EXPECT_EQ(table.match("GET", "/items", params).entry, nullptr);
    EXPECT_EQ(table.match("GET", "/items/1/2", params).entry, nullptr);
    EXPECT_TRUE(params.empty());
}

TEST(RouterTest, ConflictNamesBothOwners) {
    RouteTable table("public");
    table.add(route("POST", "/login", "auth"));
    try {
        table.add(route("POST", "/login", "serverapi"));
        FAIL() << "expected a conflict";
    } catch (const RouteConflict& e) {
        EXPECT_STREQ(e.what(), "public: POST /login is mounted by both auth and serverapi");
    }
}

TEST(RouterTest, RejectsMalformedPatterns) {
    RouteTable table("public");
    EXPECT_THROW(table.add(route("GET", "login", "x")), std::invalid_argument);
    EXPECT_THROW(table.add(route("GET", "/a{b}", "x")), std::invalid_argument);
}
