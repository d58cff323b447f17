// Runtime log levels (see LogLevels.h).
#include "app/LogLevels.h"

#include <Poco/Logger.h>

#include <algorithm>

#include "switchboard/Json.h"

namespace switchboard {

namespace {

/// The host's own loggers (switchboard.<name>), besides the plugins'.
const std::vector<std::string> kHostLoggers = {"host", "lua", "reactor", "store"};
const std::vector<std::string> kLevels = {"fatal",  "critical",    "error", "warning",
                                          "notice", "information", "debug", "trace"};

std::string levelName(int level) {
    return level >= 1 && level <= 8 ? kLevels[static_cast<std::size_t>(level - 1)] : "none";
}

}  // namespace

LogLevels::LogLevels(std::function<std::vector<std::string>()> plugins)
    : _plugins(std::move(plugins)) {}

std::string LogLevels::loggerOf(const std::string& name) const {
    std::vector<std::string> plugins = _plugins();
    bool known = std::find(kHostLoggers.begin(), kHostLoggers.end(), name) != kHostLoggers.end() ||
                 std::find(plugins.begin(), plugins.end(), name) != plugins.end();
    return known ? "switchboard." + name : "";
}

void LogLevels::apply(const std::string& configuredLevel) {
    std::lock_guard<std::mutex> lock(_mutex);
    _configured = configuredLevel;
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(configuredLevel));
    for (const auto& [name, level] : _overrides) {
        Poco::Logger::setLevel("switchboard." + name, Poco::Logger::parseLevel(level));
    }
}

std::vector<Route> LogLevels::routes() {
    Schema logger =
        Schema::object({{"name", Schema::string("a plugin or host logger")},
                        {"logger", Schema::string("the POCO logger, switchboard.<name>")},
                        {"level", Schema::string()},
                        {"override", Schema::boolean("set through this API")}});
    std::vector<Route> routes;
    routes.push_back(
        {"GET", "/admin/api/log-levels",
         [this](const HttpRequest&, HttpResponse& resp) { list(resp); }, false,
         RouteDoc("The log level of each plugin and host logger")
             .answer(200, "the levels",
                     Schema::object({{"configured", Schema::string("server.log.level")},
                                     {"loggers", Schema::array(logger)}}))});
    routes.push_back(
        {"PUT", "/admin/api/log-levels/{name}",
         [this](const HttpRequest& req, HttpResponse& resp) { set(req, resp); }, false,
         RouteDoc("Sets a logger's level at runtime (kept through reloads until deleted)")
             .body(Schema::object(
                 {{"level", Schema::string().oneOf({"fatal", "critical", "error", "warning",
                                                    "notice", "information", "debug", "trace"})}}))
             .answer(200, "the logger", logger)
             .error(400, "the body or level is invalid (the message names it)")
             .error(404, "no plugin or host logger named so")});
    routes.push_back({"DELETE", "/admin/api/log-levels/{name}",
                      [this](const HttpRequest& req, HttpResponse& resp) { reset(req, resp); },
                      false,
                      RouteDoc("Drops a logger's runtime level: server.log.level again")
                          .answer(200, "the logger", logger)
                          .error(404, "no plugin or host logger named so")});
    return routes;
}

void LogLevels::list(HttpResponse& resp) {
    std::vector<std::string> names = kHostLoggers;
    for (const auto& p : _plugins()) {
        if (std::find(names.begin(), names.end(), p) == names.end()) {
            names.push_back(p);
        }
    }
    std::lock_guard<std::mutex> lock(_mutex);
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::writeString(w, "configured", _configured);
    w.Key("loggers");
    w.StartArray();
    for (const auto& name : names) {
        w.StartObject();
        json::writeString(w, "name", name);
        json::writeString(w, "logger", "switchboard." + name);
        json::writeString(w, "level",
                          levelName(Poco::Logger::get("switchboard." + name).getLevel()));
        w.Key("override");
        w.Bool(_overrides.count(name) > 0);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp.json(200, buffer.GetString());
}

void LogLevels::answer(HttpResponse& resp, const std::string& name) {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::writeString(w, "name", name);
    json::writeString(w, "logger", "switchboard." + name);
    json::writeString(w, "level", levelName(Poco::Logger::get("switchboard." + name).getLevel()));
    w.Key("override");
    w.Bool(_overrides.count(name) > 0);
    w.EndObject();
    resp.json(200, buffer.GetString());
}

void LogLevels::set(const HttpRequest& req, HttpResponse& resp) {
    std::string name = req.param("name");
    std::string logger = loggerOf(name);
    if (logger.empty()) {
        resp.error(404, "no plugin or host logger named '" + name + "'");
        return;
    }
    rapidjson::Document body;
    if (!json::readBody(req, body, resp)) {
        return;
    }
    std::string level;
    std::string error;
    if (!json::requireString(body, "level", level, error)) {
        resp.error(400, error);
        return;
    }
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
        resp.error(400,
                   "level must be one of fatal, critical, error, warning, notice, information, "
                   "debug, trace");
        return;
    }
    std::lock_guard<std::mutex> lock(_mutex);
    _overrides[name] = level;
    Poco::Logger::setLevel(logger, Poco::Logger::parseLevel(level));
    Poco::Logger::get("switchboard.host")
        .notice("log level of %s set to %s through the admin API", logger, level);
    answer(resp, name);
}

void LogLevels::reset(const HttpRequest& req, HttpResponse& resp) {
    std::string name = req.param("name");
    std::string logger = loggerOf(name);
    if (logger.empty()) {
        resp.error(404, "no plugin or host logger named '" + name + "'");
        return;
    }
    std::lock_guard<std::mutex> lock(_mutex);
    _overrides.erase(name);
    Poco::Logger::setLevel(logger, Poco::Logger::parseLevel(_configured));
    answer(resp, name);
}

}  // namespace switchboard
