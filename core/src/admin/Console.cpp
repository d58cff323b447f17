// The console's files and view descriptions (see Console.h).
#include "admin/Console.h"

#include "admin/ConsoleAssets.h"
#include "switchboard/Json.h"

namespace switchboard {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string(Writer& w, const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void writeAction(Writer& w, const std::string& base, const ViewAction& a) {
    w.StartObject();
    string(w, "label", a.label);
    string(w, "method", a.method);
    string(w, "path", base + a.path);
    string(w, "scope", a.scope);
    string(w, "confirm", a.confirm);
    w.Key("fields");
    w.StartArray();
    for (const auto& f : a.fields) {
        w.StartObject();
        string(w, "name", f.name);
        string(w, "label", f.label.empty() ? f.name : f.label);
        string(w, "type", f.type);
        w.Key("required");
        w.Bool(f.required);
        w.EndObject();
    }
    w.EndArray();
    w.Key("shows");
    w.StartArray();
    for (const auto& field : a.shows) {
        w.String(field.c_str());
    }
    w.EndArray();
    w.EndObject();
}

void writeView(Writer& w, const std::string& plugin, const AdminView& v) {
    std::string base = "/admin/api/" + plugin;
    w.StartObject();
    string(w, "plugin", plugin);
    string(w, "id", v.id);
    string(w, "title", v.title);
    string(w, "endpoint", base + v.endpoint);
    w.Key("search");
    w.Bool(v.search);
    w.Key("paginate");
    w.Bool(v.paginate);
    w.Key("columns");
    w.StartArray();
    for (const auto& c : v.columns) {
        w.StartObject();
        string(w, "key", c.key);
        string(w, "label", c.label.empty() ? c.key : c.label);
        string(w, "format", c.format);
        w.EndObject();
    }
    w.EndArray();
    w.Key("actions");
    w.StartArray();
    for (const auto& a : v.actions) {
        writeAction(w, base, a);
    }
    w.EndArray();
    w.EndObject();
}

}  // namespace

void setConsoleHeaders(HttpResponse& resp) {
    resp.setHeader("Content-Security-Policy", kConsoleCsp);
    resp.setHeader("X-Frame-Options", "DENY");
    resp.setHeader("X-Content-Type-Options", "nosniff");
    resp.setHeader("Referrer-Policy", "no-referrer");
    resp.setHeader("Cache-Control", "no-cache");
}

void serveConsoleAsset(const std::string& path, HttpResponse& resp) {
    setConsoleHeaders(resp);
    const ConsoleAsset* asset = findConsoleAsset(path);
    if (asset == nullptr) {
        resp.error(404, "no console file " + path);
        return;
    }
    resp.setStatus(200);
    resp.setBody(std::string(reinterpret_cast<const char*>(asset->data), asset->size),
                 asset->contentType);
}

std::string adminViewsJson(
    const std::vector<std::pair<std::string, std::vector<AdminView>>>& byPlugin) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("views");
    w.StartArray();
    for (const auto& [plugin, views] : byPlugin) {
        for (const auto& view : views) {
            writeView(w, plugin, view);
        }
    }
    w.EndArray();
    w.EndObject();
    return buffer.GetString();
}

}  // namespace switchboard
