// Route table and admin handlers (see AuthRoutes.h).
#include "AuthRoutes.h"

#include <Poco/NumberParser.h>

#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {

using json::Writer;
using json::writeString;
using json::writeStringOrNull;

/// A non-negative integer query parameter within [0, max], or `def` when absent. False (and
/// 400 answered) if malformed.
bool queryNumber(const HttpRequest& req, HttpResponse& resp, const std::string& name,
                 std::uint64_t def, std::uint64_t max, std::uint64_t& out) {
    std::string text = req.query(name);
    if (text.empty()) {
        out = def;
        return true;
    }
    if (!Poco::NumberParser::tryParseUnsigned64(text, out) || out > max ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        resp.error(400, name + " must be an integer between 0 and " + std::to_string(max));
        return false;
    }
    return true;
}

}  // namespace

AuthRoutes::AuthRoutes(std::shared_ptr<const AuthConfig> config)
    : _config(config), _sessionRoutes(config), _accountRoutes(config) {}

HttpHandler AuthRoutes::wrap(Handler handler) {
    return [this, handler](const HttpRequest& req, HttpResponse& resp) {
        (this->*handler)(req, resp, *_runtime);
    };
}

std::vector<Route> AuthRoutes::routes() {
    std::vector<Route> routes{
        {"POST", "/register", wrap(&AuthRoutes::registerAccount)},
        {"POST", "/login", wrap(&AuthRoutes::login)},
        {"POST", "/logout", wrap(&AuthRoutes::logout)},
        {"POST", "/communicate", wrap(&AuthRoutes::communicate)},
        {"GET", "/me", wrap(&AuthRoutes::me)},
        {"POST", "/password/change", wrap(&AuthRoutes::changePassword)},
        {"POST", "/email/change", wrap(&AuthRoutes::changeEmail)},
        {"DELETE", "/account", wrap(&AuthRoutes::deleteAccount)},
        {"POST", "/password/forgot", wrap(&AuthRoutes::forgotPassword)},
        {"POST", "/password/reset", wrap(&AuthRoutes::resetPassword)},
    };
    if (_config->benchmarkRoute) {
        routes.push_back({"POST", "/_bench/communicate", wrap(&AuthRoutes::benchCommunicate)});
    }
    return routes;
}

std::vector<Route> AuthRoutes::adminRoutes() {
    return {{"GET", "/users", wrap(&AuthRoutes::listUsers)},
            {"GET", "/sessions", wrap(&AuthRoutes::listSessions)},
            {"DELETE", "/sessions/{id}", wrap(&AuthRoutes::revokeSession)}};
}

std::vector<AdminView> AuthRoutes::adminViews() {
    return {{"users",
             "Users",
             "/users",
             {{"id", "Id"},
              {"username", "Username"},
              {"email", "Email"},
              {"source", "Source"},
              {"created_at", "Created", "time"},
              {"sessions", "Sessions"}},
             {{"Sessions", "GET", "/sessions?user_id={id}"},
              {"Delete", "DELETE", "/users/{id}", "row",
               "Delete this account everywhere (sessions, chat history, memberships)?"}},
             true,
             true},
            {"sessions",
             "Sessions",
             "/sessions",
             {{"id", "Session"},
              {"user_id", "User"},
              {"username", "Login"},
              {"created_at", "Created", "time"},
              {"last_used", "Last used", "time"},
              {"peer", "Address"}},
             {{"Revoke", "DELETE", "/sessions/{id}", "row", "Revoke this session?"}},
             false,
             true}};
}

void AuthRoutes::login(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _sessionRoutes.login(req, resp, rt);
}
void AuthRoutes::logout(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _sessionRoutes.logout(req, resp, rt);
}
void AuthRoutes::communicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _sessionRoutes.communicate(req, resp, rt, false);
}
void AuthRoutes::benchCommunicate(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _sessionRoutes.communicate(req, resp, rt, true);
}
void AuthRoutes::registerAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.registerAccount(req, resp, rt);
}
void AuthRoutes::me(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.me(req, resp, rt);
}
void AuthRoutes::changePassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.changePassword(req, resp, rt);
}
void AuthRoutes::changeEmail(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.changeEmail(req, resp, rt);
}
void AuthRoutes::deleteAccount(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.deleteAccount(req, resp, rt);
}
void AuthRoutes::forgotPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.forgotPassword(req, resp, rt);
}
void AuthRoutes::resetPassword(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    _accountRoutes.resetPassword(req, resp, rt);
}

void AuthRoutes::listUsers(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::uint64_t limit = 0, offset = 0;
    if (!queryNumber(req, resp, "limit", 100, 1000, limit) ||
        !queryNumber(req, resp, "offset", 0, UINT32_MAX, offset)) {
        return;
    }
    std::vector<UserRow> rows;
    try {
        rows = rt.accounts->rows(limit, offset);
    } catch (const AccountError& e) {
        e.answer(resp);
        return;
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("users");
    w.StartArray();
    for (const auto& u : rows) {
        w.StartObject();
        w.Key("id");
        w.Int64(u.id);
        writeStringOrNull(w, "username", u.username);
        writeStringOrNull(w, "email", u.email);
        writeString(w, "source", u.source);
        w.Key("created_at");
        w.Double(static_cast<double>(u.createdAt) / 1000.0);
        w.Key("sessions");
        w.Uint64(rt.sessions->list(u.id).size());
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp.json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

void AuthRoutes::listSessions(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::optional<std::int64_t> user;
    if (!req.query("user_id").empty()) {
        std::uint64_t id = 0;
        if (!queryNumber(req, resp, "user_id", 0, INT64_MAX, id)) {
            return;
        }
        user = static_cast<std::int64_t>(id);
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("sessions");
    w.StartArray();
    for (const auto& s : rt.sessions->list(user)) {
        w.StartObject();
        writeString(w, "id", s.id);
        w.Key("user_id");
        w.Int64(s.userId);
        writeString(w, "username", s.login);
        w.Key("created_at");
        w.Double(static_cast<double>(s.createdAt) / 1000.0);
        w.Key("last_used");
        w.Double(static_cast<double>(s.lastUsed) / 1000.0);
        writeString(w, "peer", s.peer);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp.json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

void AuthRoutes::revokeSession(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    if (!rt.sessions->revoke(req.param("id"), "admin")) {
        resp.error(404, "Session not found");
        return;
    }
    resp.json(200, "{\"revoked\":true}");
}

}  // namespace switchboard::auth
