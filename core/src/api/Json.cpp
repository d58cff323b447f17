// JSON helpers on RapidJSON (see switchboard/Json.h).
#include "switchboard/Json.h"

#include "switchboard/Http.h"
#include "switchboard/Utf8.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace switchboard::json {

namespace {

/// Finds a key or string value of `root` that is not UTF-8, or a number too large for a double;
/// sets `error` naming where it is ("device_info.note is not valid UTF-8"). Walks with its own
/// stack, and builds a path only for the value it reports: documents may be nested far deeper than
/// recursion allows.
bool allUtf8(const rapidjson::Value& root, std::string& error) {
    struct Node {
        const rapidjson::Value* value;
        std::size_t parent;           ///< index in `nodes`; npos for the root
        const rapidjson::Value* key;  ///< member name, or null for an array element
        rapidjson::SizeType index;    ///< array position
    };
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::vector<Node> nodes{{&root, kNone, nullptr, 0}};
    std::vector<std::size_t> pending{0};
    auto pathOf = [&](std::size_t at) {
        std::vector<std::string> parts;
        for (; at != kNone && nodes[at].parent != kNone; at = nodes[at].parent) {
            const Node& n = nodes[at];
            parts.push_back(n.key != nullptr
                                ? "." + std::string(n.key->GetString(), n.key->GetStringLength())
                                : "[" + std::to_string(n.index) + "]");
        }
        std::string path;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            path += *it;
        }
        return path.empty() ? std::string() : path[0] == '.' ? path.substr(1) : path;
    };
    while (!pending.empty()) {
        std::size_t at = pending.back();
        pending.pop_back();
        const rapidjson::Value& v = *nodes[at].value;
        if (v.IsString()) {
            if (!validUtf8(std::string_view(v.GetString(), v.GetStringLength()))) {
                std::string path = pathOf(at);
                error = (path.empty() ? std::string("body") : path) + " is not valid UTF-8";
                return false;
            }
        } else if (v.IsDouble() && !std::isfinite(v.GetDouble())) {
            // RapidJSON reads 11e308 as infinity, which no JSON text can hold: stored and echoed
            // it became truncated JSON (found by fuzz/json_body_fuzz).
            error = pathOf(at) + " is too large a number";
            return false;
        } else if (v.IsObject()) {
            for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
                if (!validUtf8(
                        std::string_view(it->name.GetString(), it->name.GetStringLength()))) {
                    std::string path = pathOf(at);
                    error = "a key " + (path.empty() ? std::string("of the body") : "in " + path) +
                            " is not valid UTF-8";
                    return false;
                }
                nodes.push_back({&it->value, at, &it->name, 0});
                pending.push_back(nodes.size() - 1);
            }
        } else if (v.IsArray()) {
            for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
                nodes.push_back({&v[i], at, nullptr, i});
                pending.push_back(nodes.size() - 1);
            }
        }
    }
    return true;
}

}  // namespace

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
    // RapidJSON keeps whatever bytes a string holds; stored and echoed later they would make
    // our own replies invalid JSON for strict clients.
    return allUtf8(doc, error);
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

std::size_t depth(const rapidjson::Value& value) {
    std::size_t deepest = 0;
    std::vector<std::pair<const rapidjson::Value*, std::size_t>> pending{{&value, 1}};
    while (!pending.empty()) {
        auto [v, level] = pending.back();
        pending.pop_back();
        if (v->IsArray()) {
            deepest = std::max(deepest, level);
            for (const auto& item : v->GetArray()) {
                pending.emplace_back(&item, level + 1);
            }
        } else if (v->IsObject()) {
            deepest = std::max(deepest, level);
            for (const auto& member : v->GetObject()) {
                pending.emplace_back(&member.value, level + 1);
            }
        }
    }
    return deepest;
}

namespace {

/// Writes a scalar, or opens a container and pushes it onto `open`.
void writeValue(Writer& writer, const rapidjson::Value& v,
                std::vector<std::pair<const rapidjson::Value*, rapidjson::SizeType>>& open) {
    switch (v.GetType()) {
        case rapidjson::kNullType:
            writer.Null();
            return;
        case rapidjson::kFalseType:
            writer.Bool(false);
            return;
        case rapidjson::kTrueType:
            writer.Bool(true);
            return;
        case rapidjson::kStringType:
            writer.String(v.GetString(), v.GetStringLength());
            return;
        case rapidjson::kNumberType:
            // As rapidjson's own Accept() writes numbers.
            if (v.IsDouble()) {
                writer.Double(v.GetDouble());
            } else if (v.IsInt()) {
                writer.Int(v.GetInt());
            } else if (v.IsUint()) {
                writer.Uint(v.GetUint());
            } else if (v.IsInt64()) {
                writer.Int64(v.GetInt64());
            } else {
                writer.Uint64(v.GetUint64());
            }
            return;
        case rapidjson::kObjectType:
            writer.StartObject();
            open.emplace_back(&v, 0);
            return;
        case rapidjson::kArrayType:
            writer.StartArray();
            open.emplace_back(&v, 0);
            return;
    }
}

}  // namespace

std::string stringify(const rapidjson::Value& value) {
    // Not value.Accept(writer): it recurses once per level, and parseObject accepts nesting far
    // deeper than a thread's stack (a 200 KB body of '[' crashed the server; found while writing
    // fuzz/json_body_fuzz). The open containers are a heap stack here.
    rapidjson::StringBuffer buffer;
    Writer writer(buffer);
    std::vector<std::pair<const rapidjson::Value*, rapidjson::SizeType>> open;
    writeValue(writer, value, open);
    while (!open.empty()) {
        const rapidjson::Value& container = *open.back().first;
        rapidjson::SizeType next = open.back().second++;
        if (container.IsObject()) {
            if (next == container.MemberCount()) {
                writer.EndObject(next);
                open.pop_back();
                continue;
            }
            const auto& member = container.MemberBegin()[next];
            writer.Key(member.name.GetString(), member.name.GetStringLength());
            writeValue(writer, member.value, open);
        } else {
            if (next == container.Size()) {
                writer.EndArray(next);
                open.pop_back();
                continue;
            }
            writeValue(writer, container[next], open);
        }
    }
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
