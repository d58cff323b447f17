// Route documentation as data: what each route of a table declares next to its handler (a
// summary, the request body's JSON Schema, its query parameters, the answers and the errors it
// can give). The host turns the mounted tables into OpenAPI 3.1 documents (/openapi.json,
// /admin/openapi.json), so the documents cannot drift from what is mounted.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// A JSON Schema (2020-12, the dialect of OpenAPI 3.1), kept as its JSON text. Build it with
/// the factories; an empty Schema means "none".
struct SchemaField;

class Schema {
public:
    using Field = SchemaField;

    Schema() = default;
    static Schema string(const std::string& description = {});
    static Schema integer(const std::string& description = {});
    static Schema number(const std::string& description = {});
    static Schema boolean(const std::string& description = {});
    /// Seconds since the epoch with microseconds (Clock.h's wire format).
    static Schema time(const std::string& description = {});
    static Schema array(const Schema& items, const std::string& description = {});
    /// An object with these members (other members are not ruled out).
    static Schema object(std::initializer_list<Field> fields, const std::string& description = {});
    /// An object of any members (e.g. data a client or a hook defines).
    static Schema anyObject(const std::string& description = {});
    /// Any JSON value.
    static Schema any(const std::string& description = {});
    /// {"error": "<what is wrong>"}, the error shape of the host and most plugins.
    static Schema error();
    /// A schema written out by hand (JSON text), for what the factories cannot say.
    static Schema raw(std::string json) { return Schema(std::move(json)); }

    /// This schema or null.
    Schema orNull() const;
    /// This schema with one of `values` only (for strings).
    Schema oneOf(std::initializer_list<const char*> values) const;

    const std::string& json() const { return _json; }
    bool empty() const { return _json.empty(); }

private:
    explicit Schema(std::string json) : _json(std::move(json)) {}
    std::string _json;
};

/// A member of an object schema: name, schema, and whether it must be present.
struct SchemaField {
    SchemaField(std::string fieldName, Schema fieldSchema, bool isRequired = true)
        : name(std::move(fieldName)), schema(std::move(fieldSchema)), required(isRequired) {}
    std::string name;
    Schema schema;
    bool required;
};

/// An optional member of an object schema.
inline Schema::Field optional(std::string name, Schema schema) {
    return Schema::Field(std::move(name), std::move(schema), false);
}

/// One answer of a route: status, what it means, and the body's schema (none for no body).
struct RouteAnswer {
    int status = 200;
    std::string description;
    Schema body;
    std::string contentType = "application/json";
};

/// A query parameter of a route.
struct RouteParameter {
    std::string name;
    std::string description;
    Schema schema;
    bool required = false;
};

/// A way to authenticate, as OpenAPI's components.securitySchemes holds it: a name and the
/// scheme object's JSON, e.g. {"type":"http","scheme":"bearer"}.
struct SecurityScheme {
    std::string name;
    std::string json;
};

/// What a route declares about itself. Build it with RouteDoc(summary) and the chained calls:
///
///     RouteDoc("Enrols a device")
///         .body(Schema::object({optional("device_key", Schema::string())}))
///         .answer(201, "enrolled; the token is shown once", tokenSchema)
///         .error(400, "a field is invalid").error(409, "the device exists")
///
/// A route without a summary or an answer is undocumented: a test walks the mounted tables
/// and fails for it. Path parameters ({key}) are documented from the path itself.
struct RouteDoc {
    RouteDoc() = default;
    explicit RouteDoc(std::string routeSummary) : summary(std::move(routeSummary)) {}

    std::string summary;
    std::string description;
    Schema requestBody;
    bool bodyRequired = true;
    std::string bodyType = "application/json";
    std::vector<RouteParameter> query;
    std::vector<RouteAnswer> answers;
    /// Alternatives, any one of which the route accepts (none: no credential needed).
    std::vector<SecurityScheme> security;

    /// A longer explanation (Markdown).
    RouteDoc& describe(std::string text);
    /// The request body's schema; `required` false when an empty body is accepted.
    RouteDoc& body(Schema schema, bool required = true);
    /// A body of another type than JSON (e.g. "text/plain").
    RouteDoc& bodyOfType(std::string contentType, Schema schema, bool required = true);
    RouteDoc& param(std::string name, std::string description, Schema schema,
                    bool required = false);
    /// A successful answer with a JSON body (none when `schema` is empty).
    RouteDoc& answer(int status, std::string description, Schema schema = {});
    /// An answer whose body is not JSON.
    RouteDoc& answerOfType(int status, std::string description, std::string contentType,
                           Schema schema = Schema::string());
    /// An error answer with `schema`, by default {"error": "..."}.
    RouteDoc& error(int status, std::string description, Schema schema = Schema::error());
    /// limit, offset (and q when `search` names what it matches) of an admin list
    /// (switchboard/Paging.h), with its 400; `item` is the schema of one element of "items".
    RouteDoc& paged(const Schema& item, const std::string& search = {});

    /// Accepts the credential `scheme` (an alternative to the others declared).
    RouteDoc& auth(SecurityScheme scheme);

    /// True when the route has a summary and at least one answer.
    bool documented() const { return !summary.empty() && !answers.empty(); }
};

}  // namespace switchboard
