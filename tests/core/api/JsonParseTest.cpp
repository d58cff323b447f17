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
