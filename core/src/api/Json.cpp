// JSON helpers on RapidJSON (see switchboard/Json.h).
#include "switchboard/Json.h"

#include "switchboard/Http.h"

namespace switchboard::json {

bool parseObject(std::string_view text, rapidjson::Document& doc, std::string& error) {
    // Iterative, not recursive: a body of a million '[' must not overflow the thread's stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
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

bool parseBody(const HttpRequest& req, rapidjson::Document& doc, std::string& error,
               BlankBody blank) {
    const std::string& body = req.body();
    if (blank == BlankBody::EmptyObject && body.find_first_not_of(" \t\r\n") == std::string::npos) {
        doc.SetObject();
        return true;
    }
    return parseObject(body, doc, error);
}

bool readBody(const HttpRequest& req, rapidjson::Document& doc, HttpResponse& resp,
              BlankBody blank) {
    std::string error;
    if (!parseBody(req, doc, error, blank)) {
        resp.error(400, error);
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

bool requireString(const rapidjson::Value& object, const char* name, std::string& out,
                   std::string& error) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || it->value.IsNull()) {
        error = std::string("missing key: ") + name;
        return false;
    }
    if (!it->value.IsString()) {
        error = std::string(name) + " must be a string";
        return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

bool requireInt(const rapidjson::Value& object, const char* name, std::int64_t& out,
                std::string& error) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || it->value.IsNull()) {
        error = std::string("missing key: ") + name;
        return false;
    }
    if (!it->value.IsInt64()) {
        error = std::string(name) + " must be an integer";
        return false;
    }
    out = it->value.GetInt64();
    return true;
}

bool optionalString(const rapidjson::Value& object, const char* name, std::string& out,
                    std::string& error) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || it->value.IsNull()) {
        return true;
    }
    if (!it->value.IsString()) {
        error = std::string(name) + " must be a string";
        return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

void writeString(Writer& writer, const char* key, std::string_view value) {
    writer.Key(key);
    writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void writeStringOrNull(Writer& writer, const char* key, std::string_view value) {
    if (value.empty()) {
        writer.Key(key);
        writer.Null();
    } else {
        writeString(writer, key, value);
    }
}

void writeTimeOrNull(Writer& writer, const char* key, double seconds) {
    writer.Key(key);
    if (seconds > 0) {
        writer.Double(seconds);
    } else {
        writer.Null();
    }
}

std::string errorBody(std::string_view message) {
    return "{\"error\":" + quote(message) + "}";
}

}  // namespace switchboard::json
