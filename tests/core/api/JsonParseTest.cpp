// json::parseObject and json::stringify on hostile input: nesting deep enough to overflow a
// recursive parser's or writer's stack must give the usual errors or text, never a crash.
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

// Found while writing fuzz/json_body_fuzz: stringify recursed once per level, and a 200 KB body
// parseObject accepts (this one) overflowed the stack of the thread echoing it.
TEST(JsonParseTest, DeeplyNestedMembersSerialise) {
    rapidjson::Document doc;
    std::string error;
    std::string text = "{\"a\":" + std::string(200000, '[') + "{\"k\":[1,-2,3.5,\"s\",null,true]}" +
                       std::string(200000, ']') + ",\"b\":{}}";
    ASSERT_TRUE(json::parseObject(text, doc, error)) << error;
    EXPECT_EQ(json::stringify(doc), text);
}

// Found by fuzz/json_body_fuzz: 11e308 parsed as infinity, which stringify cannot write: the
// text it made ended there.
TEST(JsonParseTest, NumbersTooLargeForADoubleAreRefusedNamingWhereTheyAre) {
    rapidjson::Document doc;
    std::string error;
    EXPECT_FALSE(json::parseObject("{\"device_info\":{\"uptime\":11e308}}", doc, error));
    EXPECT_EQ(error, "device_info.uptime is too large a number");
    EXPECT_FALSE(json::parseObject("{\"a\":[1,-11e308]}", doc, error));
    EXPECT_EQ(error, "a[1] is too large a number");
    ASSERT_TRUE(json::parseObject("{\"a\":1.7976931348623157e308}", doc, error)) << error;
    EXPECT_EQ(json::stringify(doc), "{\"a\":1.7976931348623157e308}");
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
