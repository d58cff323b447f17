// JSON helpers on RapidJSON, the JSON library of the plugin API (fast enough for hot paths).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard {
class HttpRequest;
class HttpResponse;
}  // namespace switchboard

namespace switchboard::json {

/// Parses `text` into `doc`. Returns false and sets `error` if it is not a JSON object ("body
/// is not valid JSON", "body must be a JSON object") or if a key or string in it is not valid
/// UTF-8, naming where ("ssh_user is not valid UTF-8", "device_info.note is not valid UTF-8",
/// "a key in device_info is not valid UTF-8"), or if a number is too large for a double
/// ("device_info.uptime is too large a number").
bool parseObject(std::string_view text, rapidjson::Document& doc, std::string& error);

/// What a request body of nothing but whitespace means to parseBody and readBody.
enum class BlankBody {
    Invalid,      ///< "body is not valid JSON", like any other text that is not JSON
    EmptyObject,  ///< {} (for APIs whose fields are all optional)
};

/// Parses the request body as a JSON object into `doc` (parseObject's errors). For APIs that
/// answer errors in a shape of their own.
bool parseBody(const HttpRequest& req, rapidjson::Document& doc, std::string& error,
               BlankBody blank = BlankBody::Invalid);

/// parseBody that answers 400 {"error": "<parse problem>"} itself; false when it did.
bool readBody(const HttpRequest& req, rapidjson::Document& doc, HttpResponse& resp,
              BlankBody blank = BlankBody::Invalid);

/// Levels of nested objects and arrays in `value`: 0 for a scalar, 1 for {} or [1, 2], 2 for
/// {"a": []}. Iterative, so a value of any depth is safe to measure.
std::size_t depth(const rapidjson::Value& value);

/// Serialises a value to compact JSON text.
std::string stringify(const rapidjson::Value& value);

/// {"error": message} with proper escaping.
std::string errorBody(std::string_view message);

/// Escapes `text` as a JSON string literal including the quotes.
std::string quote(std::string_view text);

/// The writer plugins use to build responses.
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes the member "key": "value" (all of the value, whatever bytes it holds).
void writeString(Writer& writer, const char* key, std::string_view value);
/// Writes "key": "value", or "key": null when the value is empty.
void writeStringOrNull(Writer& writer, const char* key, std::string_view value);
/// Writes "key": seconds, or "key": null for a time that is not set (<= 0).
void writeTimeOrNull(Writer& writer, const char* key, double seconds);

/// Reads the required string member `name` of `object`. On failure returns false and sets
/// `error` to "missing key: <name>" or "<name> must be a string".
bool requireString(const rapidjson::Value& object, const char* name, std::string& out,
                   std::string& error);

/// Reads the required integer member `name`. Errors: "missing key: <name>",
/// "<name> must be an integer".
bool requireInt(const rapidjson::Value& object, const char* name, std::int64_t& out,
                std::string& error);

/// Reads an optional string member: absent or null leaves `out` unchanged and returns true;
/// another type returns false with "<name> must be a string".
bool optionalString(const rapidjson::Value& object, const char* name, std::string& out,
                    std::string& error);

}  // namespace switchboard::json
