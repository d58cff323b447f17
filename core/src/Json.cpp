// JSON helpers on RapidJSON (see switchboard/Json.h).
#include "switchboard/Json.h"

#include "switchboard/Http.h"

namespace switchboard::json {

bool parseObject(std::string_view text, rapidjson::Document& doc, std::string& error) {
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError()) {
        error = "body is not valid JSON";
        return false;
    }
    if (!doc.IsObject()) {
        error = "body must be a JSON object";
        return false;
    }
    return true;
}

std::string stringify(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string quote(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string errorBody(std::string_view message) { return "{\"error\":" + quote(message) + "}"; }

}  // namespace switchboard::json

namespace switchboard {

void HttpResponse::error(int status, std::string_view message) {
    setStatus(status);
    setBody(json::errorBody(message));
}

}  // namespace switchboard
