// JSON helpers on RapidJSON, the JSON library of the plugin API (fast enough for hot paths).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace switchboard::json {

/// Parses `text` into `doc`. Returns false and sets `error` ("body is not valid JSON" or
/// "body must be a JSON object") if it is not a JSON object.
bool parseObject(std::string_view text, rapidjson::Document& doc, std::string& error);

/// Serialises a value to compact JSON text.
std::string stringify(const rapidjson::Value& value);

/// {"error": message} with proper escaping.
std::string errorBody(std::string_view message);

/// Escapes `text` as a JSON string literal including the quotes.
std::string quote(std::string_view text);

}  // namespace switchboard::json
