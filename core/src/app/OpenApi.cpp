// OpenAPI documents (see OpenApi.h).
#include "app/OpenApi.h"

#include <algorithm>
#include <map>
#include <set>

#include "net/Router.h"
#include "switchboard/Json.h"

namespace switchboard {

namespace {

std::string lower(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return text;
}

/// "get_admin_api_devices_key" for GET /admin/api/devices/{key}: unique per method and path.
std::string operationId(const RouteEntry& e) {
    std::string id = lower(e.method);
    for (char c : e.pattern) {
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (word) {
            id += c;
        } else if (c != '{' && c != '}' && id.back() != '_') {
            id += '_';
        }
    }
    while (id.back() == '_') {
        id.pop_back();
    }
    return id;
}

std::string content(const std::string& type, const Schema& schema) {
    return "{" + json::quote(type) + ":{\"schema\":" + (schema.empty() ? "{}" : schema.json()) +
           "}}";
}

/// The answers by status; several answers of one status share it (descriptions joined, the
/// distinct schemas as alternatives).
std::string responses(const RouteDoc& doc) {
    struct Merged {
        std::string description;
        std::string type;
        std::vector<std::string> schemas;
    };
    std::map<int, Merged> byStatus;
    for (const auto& a : doc.answers) {
        Merged& m = byStatus[a.status];
        m.description += (m.description.empty() ? "" : "; ") + a.description;
        if (m.type.empty()) {
            m.type = a.contentType;
        }
        if (!a.body.empty() &&
            std::find(m.schemas.begin(), m.schemas.end(), a.body.json()) == m.schemas.end()) {
            m.schemas.push_back(a.body.json());
        }
    }
    if (byStatus.empty()) {
        return "{\"default\":{\"description\":\"undocumented\"}}";
    }
    std::string out = "{";
    for (const auto& [status, m] : byStatus) {
        out += (out.size() > 1 ? "," : "") + json::quote(std::to_string(status)) +
               ":{\"description\":" + json::quote(m.description.empty() ? "-" : m.description);
        if (m.schemas.size() == 1) {
            out += ",\"content\":" + content(m.type, Schema::raw(m.schemas.front()));
        } else if (m.schemas.size() > 1) {
            std::string any;
            for (const auto& s : m.schemas) {
                any += (any.empty() ? "" : ",") + s;
            }
            out += ",\"content\":" + content(m.type, Schema::raw("{\"anyOf\":[" + any + "]}"));
        }
        out += "}";
    }
    return out + "}";
}

std::string parameters(const RouteEntry& e) {
    std::string out;
    auto add = [&](const std::string& name, const char* in, const std::string& description,
                   const std::string& schema, bool required) {
        out += (out.empty() ? "" : ",") + std::string("{\"name\":") + json::quote(name) +
               ",\"in\":\"" + in + "\",\"required\":" + (required ? "true" : "false");
        if (!description.empty()) {
            out += ",\"description\":" + json::quote(description);
        }
        out += ",\"schema\":" + schema + "}";
    };
    for (const auto& segment : e.segments) {
        if (segment.size() > 2 && segment.front() == '{') {
            add(segment.substr(1, segment.size() - 2), "path", "", "{\"type\":\"string\"}", true);
        }
    }
    for (const auto& p : e.doc.query) {
        add(p.name, "query", p.description, p.schema.empty() ? "{}" : p.schema.json(), p.required);
    }
    return out;
}

std::string operation(const RouteEntry& e, std::map<std::string, std::string>& schemes) {
    const RouteDoc& doc = e.doc;
    std::string out = "{\"tags\":[" + json::quote(e.owner) + "],\"summary\":" +
                      json::quote(doc.summary.empty() ? "undocumented" : doc.summary) +
                      ",\"operationId\":" + json::quote(operationId(e));
    if (!doc.description.empty()) {
        out += ",\"description\":" + json::quote(doc.description);
    }
    std::string params = parameters(e);
    if (!params.empty()) {
        out += ",\"parameters\":[" + params + "]";
    }
    if (!doc.requestBody.empty()) {
        out += std::string(",\"requestBody\":{\"required\":") +
               (doc.bodyRequired ? "true" : "false") +
               ",\"content\":" + content(doc.bodyType, doc.requestBody) + "}";
    }
    out += ",\"responses\":" + responses(doc);
    if (!doc.security.empty()) {
        std::string alternatives;
        for (const auto& s : doc.security) {
            schemes.emplace(s.name, s.json);
            alternatives +=
                (alternatives.empty() ? "" : ",") + std::string("{") + json::quote(s.name) + ":[]}";
        }
        out += ",\"security\":[" + alternatives + "]";
    }
    return out + "}";
}

}  // namespace

std::string OpenApi::render(const RouteTable& table, const OpenApiInfo& info) {
    // Paths in order, each with its operations in the order they were mounted.
    std::map<std::string, std::vector<const RouteEntry*>> paths;
    std::set<std::string> tags;
    for (const auto& entry : table.entries()) {
        paths[entry->pattern].push_back(entry.get());
        tags.insert(entry->owner);
    }
    std::map<std::string, std::string> schemes;
    std::string body;
    for (const auto& [path, entries] : paths) {
        std::string ops;
        for (const RouteEntry* e : entries) {
            ops += (ops.empty() ? "" : ",") + json::quote(lower(e->method)) + ":" +
                   operation(*e, schemes);
        }
        body += (body.empty() ? "" : ",") + json::quote(path) + ":{" + ops + "}";
    }
    std::string out = "{\"openapi\":\"3.1.0\",\"info\":{\"title\":" + json::quote(info.title) +
                      ",\"version\":" + json::quote(info.version);
    if (!info.description.empty()) {
        out += ",\"description\":" + json::quote(info.description);
    }
    out += "},\"tags\":[";
    bool first = true;
    for (const auto& tag : tags) {
        out += (first ? "" : ",") + std::string("{\"name\":") + json::quote(tag) + "}";
        first = false;
    }
    out += "],\"paths\":{" + body + "}";
    if (!schemes.empty()) {
        std::string defs;
        for (const auto& [name, json] : schemes) {
            defs += (defs.empty() ? "" : ",") + json::quote(name) + ":" + json;
        }
        out += ",\"components\":{\"securitySchemes\":{" + defs + "}}";
    }
    return out + "}";
}

}  // namespace switchboard
