// The operator CLI (see ControlCommand.h).
#include "ctl/ControlCommand.h"

#include <Poco/File.h>
#include <Poco/URI.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "ctl/AdminClient.h"
#include "ctl/Output.h"
#include "switchboard/Json.h"

namespace switchboard::ctl {

namespace {

const char* kUsageText =
    "usage: switchboard ctl [options] <noun> <verb> [arguments]\n"
    "\n"
    "  status                          readiness and every plugin's state\n"
    "  plugins list                    plugins with state, override, listener, error\n"
    "  plugins enable|disable NAME     runtime override (kept across restarts)\n"
    "  plugins reset NAME              remove the override: back to the config file\n"
    "  reload                          re-read the config file\n"
    "  events tail [--topic PATTERN] [--count N]   live bus events (Ctrl-C to stop)\n"
    "  devices list [--q TEXT]         devices with online and last seen\n"
    "  devices enrol [--key KEY] [--note TEXT]     a new device and its one-time token\n"
    "  devices token KEY               a new registration token\n"
    "  devices revoke KEY\n"
    "  servers list                    pairing servers\n"
    "  users list [--q TEXT]           accounts\n"
    "  users delete ID                 delete an account everywhere\n"
    "  sessions list [--user ID]       live sessions\n"
    "  sessions revoke ID\n"
    "  peers list                      signaling peers online\n"
    "  peers kick ORGANIZATION PEER\n"
    "  audit list [--action ACTION]    the audit log, newest first\n"
    "\n"
    "options:\n"
    "  --url URL       admin API (default: the config's admin listener, else "
    "http://127.0.0.1:9000)\n"
    "  --token TOKEN   admin token (default: $SWITCHBOARD_ADMIN_TOKEN, admin.token of the "
    "config,\n"
    "                  else <server.data_dir>/admin-token)\n"
    "  --config FILE   config file to read those defaults from (default: etc/switchboard.yaml)\n"
    "  --json          print the API's JSON answer instead of a table\n"
    "  --limit N, --offset N           page of a list\n"
    "\n"
    "exit codes: 0 ok, 1 server error, 2 usage, 3 unreachable, 4 refused (400/401/403/409/429),\n"
    "            5 not found\n";

const std::set<std::string> kValueOptions = {"url",    "token", "config", "topic", "count", "limit",
                                             "offset", "q",     "action", "user",  "key",   "note"};

struct Options {
    std::map<std::string, std::string> values;
    bool json = false;
    std::vector<std::string> words;
    std::string get(const std::string& name, const std::string& def = "") const {
        auto it = values.find(name);
        return it == values.end() ? def : it->second;
    }
    bool has(const std::string& name) const { return values.count(name) > 0; }
};

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

Options parse(const std::vector<std::string>& args) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            o.words.insert(o.words.end(), args.begin() + static_cast<long>(i) + 1, args.end());
            break;
        }
        if (a.rfind("--", 0) != 0 || a.size() == 2) {
            o.words.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        bool inline_ = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inline_ = true;
        }
        if (name == "json" && !inline_) {
            o.json = true;
        } else if (name == "help" && !inline_) {
            o.values["help"] = "";
        } else if (kValueOptions.count(name)) {
            if (!inline_) {
                if (i + 1 >= args.size()) {
                    throw UsageError("--" + name + " needs a value");
                }
                value = args[++i];
            }
            o.values[name] = value;
        } else {
            throw UsageError("unknown option --" + name);
        }
    }
    return o;
}

std::string encode(const std::string& s) {
    std::string out;
    Poco::URI::encode(s, "/?#&=+%", out);
    return out;
}

/// The config file's admin URL, admin.token and data_dir (best effort: an unreadable config
/// leaves the defaults).
struct ConfigDefaults {
    std::string url = "http://127.0.0.1:9000";
    std::string token;
    std::string dataDir = "var";
};

ConfigDefaults readConfig(const std::string& file, bool explicitFile, std::string& problem) {
    ConfigDefaults d;
    if (!Poco::File(file).exists()) {
        if (explicitFile) {
            problem = "--config " + file + ": no such file";
        }
        return d;
    }
    try {
        YAML::Node root = YAML::LoadFile(file);
        std::string listener = "admin";
        if (root["admin"] && root["admin"]["listener"]) {
            listener = root["admin"]["listener"].as<std::string>();
        }
        YAML::Node l = root["listeners"] ? root["listeners"][listener] : YAML::Node();
        if (l && l["port"]) {
            std::string bind = l["bind"] ? l["bind"].as<std::string>() : "127.0.0.1";
            if (bind == "0.0.0.0" || bind == "::" || bind.empty()) {
                bind = "127.0.0.1";
            }
            if (bind.find(':') != std::string::npos) {
                bind = "[" + bind + "]";
            }
            d.url = "http://" + bind + ":" + l["port"].as<std::string>();
        }
        if (root["admin"] && root["admin"]["token"]) {
            std::string token = root["admin"]["token"].as<std::string>();
            if (token.find("${") == std::string::npos) {
                d.token = token;  // ${VAR} is the environment's business, read below
            }
        }
        if (root["server"] && root["server"]["data_dir"]) {
            d.dataDir = root["server"]["data_dir"].as<std::string>();
        }
    } catch (const YAML::Exception& e) {
        problem = file + ": " + e.what();
    }
    return d;
}

std::string readToken(const std::string& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
    }
    return line;
}

/// One command: what it requests and how its answer is shown.
struct Context {
    Options options;
    AdminClient* client;
    std::ostream& out;
    std::ostream& err;
};

int exitFor(int status) {
    if (status >= 200 && status < 300) {
        return kOk;
    }
    if (status == 404) {
        return kNotFound;
    }
    if (status == 400 || status == 401 || status == 403 || status == 409 || status == 421 ||
        status == 429) {
        return kRefused;
    }
    return kFailed;
}

/// Prints a failed answer: the status, the API's error and its problems.
int failure(Context& c, const std::string& what, const AdminResponse& r) {
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    std::string message;
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") &&
        doc["error"].IsString()) {
        message = doc["error"].GetString();
    } else {
        message = r.body.substr(0, 200);
    }
    c.err << "switchboard ctl: " << what << ": " << r.status << " " << message << "\n";
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("problems") &&
        doc["problems"].IsArray()) {
        for (const auto& p : doc["problems"].GetArray()) {
            if (p.IsString()) {
                c.err << "  " << p.GetString() << "\n";
            }
        }
    }
    if (r.status == 401) {
        c.err << "  (give the admin token with --token, SWITCHBOARD_ADMIN_TOKEN or the "
                 "config's data_dir/admin-token)\n";
    }
    return exitFor(r.status);
}

/// Sends a request and prints the answer: `columns` as a table for lists, else the object.
int request(Context& c, const std::string& method, const std::string& path,
            const std::string& body = "", const std::vector<std::string>& columns = {}) {
    AdminResponse r = c.client->call(method, path, body);
    if (r.status < 200 || r.status >= 300) {
        return failure(c, method + " " + path, r);
    }
    if (c.options.json) {
        c.out << r.body << (r.body.empty() || r.body.back() != '\n' ? "\n" : "");
        return kOk;
    }
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    if (doc.HasParseError()) {
        c.err << "switchboard ctl: " << method << " " << path << ": the answer is not JSON\n";
        return kFailed;
    }
    const rapidjson::Value* list = method == "GET" ? listOf(doc) : nullptr;
    if (list != nullptr) {
        printTable(c.out, *list, columns);
        if (doc.IsObject() && doc.HasMember("total") && doc["total"].IsNumber()) {
            std::uint64_t total = doc["total"].GetUint64();
            std::uint64_t offset =
                doc.HasMember("offset") && doc["offset"].IsNumber() ? doc["offset"].GetUint64() : 0;
            if (total > list->Size()) {
                c.out << "(" << list->Size() << " of " << total << " from offset " << offset
                      << "; see --limit and --offset)\n";
            }
        }
    } else if (doc.IsObject()) {
        printObject(c.out, doc);
    } else {
        c.out << r.body << "\n";
    }
    return kOk;
}

/// "?limit=..&offset=..&q=.." from the options given (and `extra` pairs).
std::string pageQuery(const Options& o, std::vector<std::pair<std::string, std::string>> extra) {
    for (const char* name : {"limit", "offset", "q"}) {
        if (o.has(name)) {
            extra.emplace_back(name, o.get(name));
        }
    }
    std::string query;
    for (const auto& [k, v] : extra) {
        query += (query.empty() ? "?" : "&") + k + "=" + encode(v);
    }
    return query;
}

void needWords(const Options& o, std::size_t n, const std::string& usage) {
    if (o.words.size() != n) {
        throw UsageError("usage: switchboard ctl " + usage);
    }
}

int status(Context& c) {
    AdminResponse ready = c.client->call("GET", "/readyz");
    AdminResponse plugins = c.client->call("GET", "/admin/api/plugins");
    if (plugins.status != 200) {
        return failure(c, "GET /admin/api/plugins", plugins);
    }
    if (c.options.json) {
        c.out << "{\"ready\":" << (ready.status == 200 ? "true" : "false")
              << ",\"url\":" << json::quote(c.client->url()) << ",\"plugins\":";
        rapidjson::Document doc;
        doc.Parse(plugins.body.c_str(), plugins.body.size());
        const rapidjson::Value* list = doc.HasParseError() ? nullptr : listOf(doc);
        std::string array = "[]";
        if (list != nullptr) {
            rapidjson::StringBuffer buffer;
            rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
            list->Accept(w);
            array = buffer.GetString();
        }
        c.out << array << "}\n";
        return ready.status == 200 ? kOk : kFailed;
    }
    c.out << "server  " << c.client->url() << "  " << (ready.status == 200 ? "ready" : "not ready")
          << "\n\n";
    rapidjson::Document doc;
    doc.Parse(plugins.body.c_str(), plugins.body.size());
    const rapidjson::Value* list = doc.HasParseError() ? nullptr : listOf(doc);
    if (list != nullptr) {
        printTable(c.out, *list, {"name", "state", "override", "listener", "error"});
    }
    return ready.status == 200 ? kOk : kFailed;
}

int eventsTail(Context& c) {
    long limit = -1;
    if (c.options.has("count")) {
        char* end = nullptr;
        std::string text = c.options.get("count");
        limit = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || limit < 1) {
            throw UsageError("--count must be a positive integer");
        }
    }
    std::string path = "/admin/api/events?topic=" + encode(c.options.get("topic", "*"));
    long seen = 0;
    std::string errorBody;
    int code = c.client->stream(
        path,
        [&](const std::string& topic, const std::string& data) {
            if (c.options.json) {
                c.out << "{\"topic\":" << json::quote(topic) << ",\"data\":" << data << "}\n";
            } else {
                c.out << topic << "  " << data << "\n";
            }
            c.out.flush();
            return limit < 0 || ++seen < limit;
        },
        errorBody);
    if (code != 200) {
        return failure(c, "GET " + path, AdminResponse{code, errorBody});
    }
    return kOk;
}

using Command = std::function<int(Context&)>;

std::map<std::string, Command> commands() {
    std::map<std::string, Command> m;
    m["status"] = [](Context& c) {
        needWords(c.options, 1, "status");
        return status(c);
    };
    m["reload"] = [](Context& c) {
        needWords(c.options, 1, "reload");
        return request(c, "POST", "/admin/api/reload");
    };
    m["plugins list"] = [](Context& c) {
        needWords(c.options, 2, "plugins list");
        return request(c, "GET", "/admin/api/plugins", "",
                       {"name", "state", "override", "required", "listener", "error"});
    };
    for (const char* verb : {"enable", "disable", "reset"}) {
        std::string v = verb;
        m["plugins " + v] = [v](Context& c) {
            needWords(c.options, 3, "plugins " + v + " NAME");
            std::string base = "/admin/api/plugins/" + encode(c.options.words[2]);
            return v == "reset" ? request(c, "DELETE", base + "/override")
                                : request(c, "POST", base + "/" + v);
        };
    }
    m["events tail"] = [](Context& c) {
        needWords(c.options, 2, "events tail [--topic PATTERN] [--count N]");
        return eventsTail(c);
    };
    m["devices list"] = [](Context& c) {
        needWords(c.options, 2, "devices list");
        return request(c, "GET", "/admin/api/devices" + pageQuery(c.options, {}), "",
                       {"device_key", "registered", "online", "last_seen", "note"});
    };
    m["devices enrol"] = [](Context& c) {
        needWords(c.options, 2, "devices enrol [--key KEY] [--note TEXT]");
        std::string body = "{";
        if (c.options.has("key")) {
            body += "\"device_key\":" + json::quote(c.options.get("key"));
        }
        if (c.options.has("note")) {
            body += std::string(body.size() > 1 ? "," : "") +
                    "\"note\":" + json::quote(c.options.get("note"));
        }
        return request(c, "POST", "/admin/api/devices", body + "}");
    };
    m["devices token"] = [](Context& c) {
        needWords(c.options, 3, "devices token KEY");
        return request(c, "POST", "/admin/api/devices/" + encode(c.options.words[2]) + "/token");
    };
    m["devices revoke"] = [](Context& c) {
        needWords(c.options, 3, "devices revoke KEY");
        return request(c, "DELETE", "/admin/api/devices/" + encode(c.options.words[2]));
    };
    m["servers list"] = [](Context& c) {
        needWords(c.options, 2, "servers list");
        return request(c, "GET", "/admin/api/pairing/servers" + pageQuery(c.options, {}));
    };
    m["users list"] = [](Context& c) {
        needWords(c.options, 2, "users list");
        return request(c, "GET", "/admin/api/auth/users" + pageQuery(c.options, {}), "",
                       {"id", "username", "email", "source", "created_at", "sessions"});
    };
    m["users delete"] = [](Context& c) {
        needWords(c.options, 3, "users delete ID");
        return request(c, "DELETE", "/admin/api/auth/users/" + encode(c.options.words[2]));
    };
    m["sessions list"] = [](Context& c) {
        needWords(c.options, 2, "sessions list [--user ID]");
        std::vector<std::pair<std::string, std::string>> extra;
        if (c.options.has("user")) {
            extra.emplace_back("user_id", c.options.get("user"));
        }
        return request(c, "GET", "/admin/api/auth/sessions" + pageQuery(c.options, extra), "",
                       {"id", "user_id", "username", "created_at", "last_used", "peer"});
    };
    m["sessions revoke"] = [](Context& c) {
        needWords(c.options, 3, "sessions revoke ID");
        return request(c, "DELETE", "/admin/api/auth/sessions/" + encode(c.options.words[2]));
    };
    m["peers list"] = [](Context& c) {
        needWords(c.options, 2, "peers list");
        return request(c, "GET", "/admin/api/signaling/peers" + pageQuery(c.options, {}));
    };
    m["peers kick"] = [](Context& c) {
        needWords(c.options, 4, "peers kick ORGANIZATION PEER");
        return request(c, "DELETE",
                       "/admin/api/signaling/peers/" + encode(c.options.words[2]) + "/" +
                           encode(c.options.words[3]));
    };
    m["audit list"] = [](Context& c) {
        needWords(c.options, 2, "audit list [--action ACTION]");
        std::vector<std::pair<std::string, std::string>> extra;
        if (c.options.has("action")) {
            extra.emplace_back("action", c.options.get("action"));
        }
        return request(c, "GET", "/admin/api/audit" + pageQuery(c.options, extra), "",
                       {"id", "time", "actor", "address", "action", "detail"});
    };
    return m;
}

}  // namespace

int runControl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    Options options;
    try {
        options = parse(args);
    } catch (const UsageError& e) {
        err << "switchboard ctl: " << e.what() << "\n\n" << kUsageText;
        return kUsage;
    }
    if (options.has("help") || options.words.empty()) {
        (options.has("help") ? out : err) << kUsageText;
        return options.has("help") ? kOk : kUsage;
    }
    auto table = commands();
    std::string key = options.words[0];
    auto found = table.find(key);
    if (found == table.end() && options.words.size() > 1) {
        key += " " + options.words[1];
        found = table.find(key);
    }
    if (found == table.end()) {
        err << "switchboard ctl: unknown command '" << key << "'\n\n" << kUsageText;
        return kUsage;
    }
    std::string problem;
    std::string configFile = options.get("config", "etc/switchboard.yaml");
    ConfigDefaults defaults = readConfig(configFile, options.has("config"), problem);
    if (!problem.empty()) {
        err << "switchboard ctl: " << problem << "\n";
        return kUsage;
    }
    std::string token = options.get("token");
    if (token.empty()) {
        const char* env = std::getenv("SWITCHBOARD_ADMIN_TOKEN");
        token = env != nullptr ? env : "";
    }
    if (token.empty()) {
        token = defaults.token;
    }
    if (token.empty()) {
        token = readToken(defaults.dataDir + "/admin-token");
    }
    try {
        AdminClient client(options.get("url", defaults.url), token);
        Context context{options, &client, out, err};
        return found->second(context);
    } catch (const UsageError& e) {
        err << "switchboard ctl: " << e.what() << "\n";
        return kUsage;
    } catch (const std::invalid_argument& e) {
        err << "switchboard ctl: " << e.what() << "\n";
        return kUsage;
    } catch (const Unreachable& e) {
        err << "switchboard ctl: cannot reach the admin API at " << options.get("url", defaults.url)
            << ": " << e.what() << "\n";
        return kUnreachable;
    }
}

}  // namespace switchboard::ctl
