// json::parseObject on hostile input: nesting deep enough to overflow a recursive parser's
// stack must give the usual errors, never a crash.
#include <gtest/gtest.h>

#include <string>

#include "switchboard/Json.h"

using namespace switchboard;

TEST(JsonParseTest, DeeplyNestedBodiesAreRejectedWithoutCrashing) {
    rapidjson::Document doc;
    std::string error;
    EXPECT_FALSE(json::parseObject(std::string(1000000, '['), doc, error));
    EXPECT_EQ(error, "body is not valid JSON");
    std::string array = std::string(1000000, '[') + std::string(1000000, ']');
    EXPECT_FALSE(json::parseObject(array, doc, error));
    EXPECT_EQ(error, "body must be a JSON object");
}

TEST(JsonParseTest, DeeplyNestedMembersParse) {
    rapidjson::Document doc;
    std::string error;
    std::string text =
        "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + ",\"b\":1}";
    ASSERT_TRUE(json::parseObject(text, doc, error)) << error;
    EXPECT_EQ(doc["b"].GetInt(), 1);
    EXPECT_TRUE(doc["a"].IsArray());
}

TEST(JsonParseTest, InvalidUtf8IsRefusedNamingWhereItIs) {
    auto problem = [](const std::string& text) {
        rapidjson::Document doc;
        std::string error;
        return json::parseObject(text, doc, error) ? std::string("ok") : error;
    };
    EXPECT_EQ(problem("{\"ssh_user\":\"caf\xc3\xa9\"}"), "ok");
    EXPECT_EQ(problem("{\"ssh_user\":\"caf\xc3\"}"), "ssh_user is not valid UTF-8");
    EXPECT_EQ(problem("{\"device_info\":{\"note\":\"\xff\"}}"),
              "device_info.note is not valid UTF-8");
    EXPECT_EQ(problem("{\"items\":[\"a\",{\"x\":[1,\"\xed\xa0\x80\"]}]}"),
              "items[1].x[1] is not valid UTF-8");
    EXPECT_EQ(problem("{\"\xc0\xaf\":1}"), "a key of the body is not valid UTF-8");
    EXPECT_EQ(problem("{\"device_info\":{\"\x80\":1}}"), "a key in device_info is not valid UTF-8");
    // An escaped lone surrogate is refused by the parser itself.
    EXPECT_EQ(problem("{\"s\":\"\\ud800\"}"), "body is not valid JSON");
    // Deep nesting still walks without recursion or quadratic paths.
    std::string deep =
        "{\"a\":" + std::string(200000, '[') + "\"\xff\"" + std::string(200000, ']') + "}";
    std::string error = problem(deep);
    EXPECT_EQ(error.rfind("a[0][0]", 0), 0u);
    EXPECT_EQ(error.substr(error.size() - 19), " is not valid UTF-8");
}
