// Route documentation (see switchboard/RouteDoc.h).
#include "switchboard/RouteDoc.h"

#include "switchboard/Json.h"
#include "switchboard/Paging.h"

namespace switchboard {

namespace {

/// {"type": type[, "description": ...]<extra>}
std::string typed(const char* type, const std::string& description, const std::string& extra = {}) {
    std::string out = std::string("{\"type\":\"") + type + "\"";
    if (!description.empty()) {
        out += ",\"description\":" + json::quote(description);
    }
    return out + extra + "}";
}

}  // namespace

Schema Schema::string(const std::string& description) {
    return Schema(typed("string", description));
}
Schema Schema::integer(const std::string& description) {
    return Schema(typed("integer", description));
}
Schema Schema::number(const std::string& description) {
    return Schema(typed("number", description));
}
Schema Schema::boolean(const std::string& description) {
    return Schema(typed("boolean", description));
}
Schema Schema::time(const std::string& description) {
    return Schema(typed("number", description.empty() ? "seconds since the epoch" : description));
}
Schema Schema::array(const Schema& items, const std::string& description) {
    return Schema(typed("array", description, ",\"items\":" + items.json()));
}
Schema Schema::object(std::initializer_list<Field> fields, const std::string& description) {
    std::string properties;
    std::string required;
    for (const auto& f : fields) {
        properties += (properties.empty() ? "" : ",") + json::quote(f.name) + ":" + f.schema.json();
        if (f.required) {
            required += (required.empty() ? "" : ",") + json::quote(f.name);
        }
    }
    std::string extra = ",\"properties\":{" + properties + "}";
    if (!required.empty()) {
        extra += ",\"required\":[" + required + "]";
    }
    return Schema(typed("object", description, extra));
}
Schema Schema::anyObject(const std::string& description) {
    return Schema(typed("object", description));
}
Schema Schema::any(const std::string& description) {
    return Schema(description.empty() ? "{}"
                                      : "{\"description\":" + json::quote(description) + "}");
}
Schema Schema::error() {
    return object({{"error", string("what is wrong")}});
}

Schema Schema::orNull() const {
    return Schema("{\"anyOf\":[" + _json + ",{\"type\":\"null\"}]}");
}

Schema Schema::oneOf(std::initializer_list<const char*> values) const {
    std::string list;
    for (const char* v : values) {
        list += (list.empty() ? "" : ",") + json::quote(v);
    }
    // The object's closing brace gives way to the enum.
    return Schema(_json.substr(0, _json.size() - 1) + ",\"enum\":[" + list + "]}");
}

RouteDoc& RouteDoc::describe(std::string text) {
    description = std::move(text);
    return *this;
}

RouteDoc& RouteDoc::body(Schema schema, bool required) {
    return bodyOfType("application/json", std::move(schema), required);
}

RouteDoc& RouteDoc::bodyOfType(std::string contentType, Schema schema, bool required) {
    bodyType = std::move(contentType);
    requestBody = std::move(schema);
    bodyRequired = required;
    return *this;
}

RouteDoc& RouteDoc::param(std::string name, std::string text, Schema schema, bool required) {
    query.push_back({std::move(name), std::move(text), std::move(schema), required});
    return *this;
}

RouteDoc& RouteDoc::answer(int status, std::string text, Schema schema) {
    answers.push_back({status, std::move(text), std::move(schema), "application/json"});
    return *this;
}

RouteDoc& RouteDoc::answerOfType(int status, std::string text, std::string contentType,
                                 Schema schema) {
    answers.push_back({status, std::move(text), std::move(schema), std::move(contentType)});
    return *this;
}

RouteDoc& RouteDoc::error(int status, std::string text, Schema schema) {
    return answer(status, std::move(text), std::move(schema));
}

RouteDoc& RouteDoc::auth(SecurityScheme scheme) {
    security.push_back(std::move(scheme));
    return *this;
}

RouteDoc& RouteDoc::paged(const Schema& item, const std::string& search) {
    std::string limits = std::to_string(PageQuery::kMaxLimit);
    param(
        "limit",
        "page size, 1 to " + limits + " (default " + std::to_string(PageQuery::kDefaultLimit) + ")",
        Schema::integer());
    param("offset", "matches to skip (default 0)", Schema::integer());
    if (!search.empty()) {
        param("q", "substring filter, ignoring case: " + search, Schema::string());
    }
    answer(200, "one page of the list",
           Schema::object({{"items", Schema::array(item)},
                           {"total", Schema::integer("every match, on this page or not")},
                           {"limit", Schema::integer()},
                           {"offset", Schema::integer()}}));
    return error(400, "limit, offset or q is out of range (the message names it)");
}

}  // namespace switchboard
