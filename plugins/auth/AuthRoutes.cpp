// Route table and admin handlers (see AuthRoutes.h).
#include "AuthRoutes.h"

#include <Poco/NumberParser.h>

#include "switchboard/Audit.h"
#include "switchboard/Json.h"
#include "switchboard/Paging.h"

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
    SecurityScheme cookie{"sessionCookie",
                          "{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"" +
                              std::string(kCookieName) +
                              "\",\"description\":\"the session of POST /login\"}"};
    SecurityScheme bearer{"bearerToken",
                          "{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":\"JWT\","
                          "\"description\":\"access_token of POST /login\"}"};
    Schema message = Schema::object({{"message", Schema::string()}});
    Schema account = Schema::object({{"id", Schema::integer()},
                                     {"email", Schema::string().orNull()},
                                     {"username", Schema::string().orNull()}});
    // Every route may find the store failing; those with a body may find it malformed.
    auto doc = [](const std::string& summary) {
        return RouteDoc(summary).error(503, "account store unavailable (Retry-After)");
    };
    auto user = [&](const std::string& summary) {
        return doc(summary).auth(cookie).auth(bearer).error(
            401, "Authentication required., Invalid session token. or Invalid token.");
    };
    const char* invalid = "the body or a field is invalid (the message names it)";
    const char* limited = "too many failed password attempts (Retry-After)";
    Schema current = Schema::object({{"current_password", Schema::string()}});
    std::vector<Route> routes{
        {"POST", "/register", wrap(&AuthRoutes::registerAccount), false,
         doc("Creates an account")
             .body(Schema::object({{"email", Schema::string()},
                                   {"password", Schema::string()},
                                   optional("username", Schema::string())}))
             .answer(201, "the account", account)
             .error(400, invalid)
             .error(409, "Email already registered, or Username already taken")},
        {"POST", "/login", wrap(&AuthRoutes::login), false,
         doc("Password login: a JWT, and the sessionToken cookie")
             .body(Schema::object({optional("username", Schema::string()),
                                   optional("email", Schema::string()),
                                   {"password", Schema::string()}},
                                  "username or email"))
             .answer(200, "logged in; Set-Cookie holds the session",
                     Schema::object({{"access_token", Schema::string("a JWT")},
                                     {"token_type", Schema::string()},
                                     {"message", Schema::string()}}))
             .error(400, "Invalid credentials. with the problem in detail",
                    Schema::object({{"error", Schema::string()}, {"detail", Schema::string()}}))
             .error(401, "Invalid credentials.")
             .error(429, "Too many failed login attempts. (Retry-After)")},
        {"POST", "/logout", wrap(&AuthRoutes::logout), false,
         user("Ends this login: its session and its JWT")
             .answer(200, "Logout successful.", message)},
        {"POST", "/communicate", wrap(&AuthRoutes::communicate), false,
         doc("Calls the on_communicate Lua hook with the caller and the body")
             .auth(cookie)
             .body(Schema::anyObject("any JSON object, at most 32 levels deep"), false)
             .answer(200, "what the hook returned", Schema::any())
             .error(400, "the body is not a JSON object, or nested too deeply")
             .error(401, "Invalid session token.")
             .error(500, "communicate hook failed, or returned an invalid response")
             .error(501, "no on_communicate hook is defined")},
        {"GET", "/me", wrap(&AuthRoutes::me), false,
         user("The caller's account").answer(200, "the account", account)},
        {"POST", "/password/change", wrap(&AuthRoutes::changePassword), false,
         user("Sets a new password; the account's other sessions end")
             .body(Schema::object(
                 {{"current_password", Schema::string()}, {"new_password", Schema::string()}}))
             .answer(200, "Password changed. with a new token",
                     Schema::object({{"message", Schema::string()},
                                     {"access_token", Schema::string()},
                                     {"token_type", Schema::string()}}))
             .error(400, invalid)
             .error(403, "Current password is incorrect, or a static account")
             .error(429, limited)},
        {"POST", "/email/change", wrap(&AuthRoutes::changeEmail), false,
         user("Sets a new email")
             .body(Schema::object(
                 {{"email", Schema::string()}, {"current_password", Schema::string()}}))
             .answer(200, "Email changed.",
                     Schema::object({{"message", Schema::string()}, {"email", Schema::string()}}))
             .error(400, invalid)
             .error(403, "Current password is incorrect, or a static account")
             .error(409, "Email already registered")
             .error(429, limited)},
        {"DELETE", "/account", wrap(&AuthRoutes::deleteAccount), false,
         user("Deletes the caller's account; every session and token ends")
             .body(current)
             .answer(200, "Account deleted.", message)
             .error(400, invalid)
             .error(403, "Current password is incorrect, or a static account")
             .error(429, limited)},
        {"POST", "/password/forgot", wrap(&AuthRoutes::forgotPassword), false,
         doc("Mails a password reset token (the answer never tells whether the account exists)")
             .body(Schema::object({{"login", Schema::string("username or email")}}))
             .answer(200, "If the account exists, a password reset mail has been sent.", message)
             .error(400, invalid)},
        {"POST", "/password/reset", wrap(&AuthRoutes::resetPassword), false,
         doc("Sets a new password with a mailed reset token")
             .body(Schema::object({{"token", Schema::string()}, {"password", Schema::string()}}))
             .answer(200, "Password has been reset.", message)
             .error(400, "Invalid or expired reset token, a weak password, or a malformed body")},
    };
    if (_config->benchmarkRoute) {
        routes.push_back({"POST", "/_bench/communicate", wrap(&AuthRoutes::benchCommunicate), false,
                          doc("Benchmark only (auth.benchmark_route): /communicate without a "
                              "session")
                              .body(Schema::anyObject(), false)
                              .answer(200, "what the hook returned", Schema::any())
                              .error(400, "the body is not a JSON object")
                              .error(500, "communicate hook failed")});
    }
    return routes;
}

std::vector<Route> AuthRoutes::adminRoutes() {
    Schema user = Schema::object({{"id", Schema::integer()},
                                  {"username", Schema::string().orNull()},
                                  {"email", Schema::string().orNull()},
                                  {"source", Schema::string().oneOf({"registered", "config"})},
                                  {"created_at", Schema::time()},
                                  {"sessions", Schema::integer("live sessions")}});
    Schema session = Schema::object({{"id", Schema::string()},
                                     {"user_id", Schema::integer()},
                                     {"username", Schema::string("the login")},
                                     {"created_at", Schema::time()},
                                     {"last_used", Schema::time()},
                                     {"peer", Schema::string()}});
    return {
        {"GET", "/users", wrap(&AuthRoutes::listUsers), false,
         RouteDoc("The accounts by id, a page at a time (never a hash)")
             .paged(user, "the username or the email")
             .error(503, "account store unavailable (Retry-After)")},
        {"GET", "/sessions", wrap(&AuthRoutes::listSessions), false,
         RouteDoc("The live login sessions, oldest first, a page at a time")
             .param("user_id", "only this account's sessions", Schema::integer())
             .paged(session, "the login")},
        {"DELETE", "/sessions/{id}", wrap(&AuthRoutes::revokeSession), false,
         RouteDoc("Ends a session and revokes its JWT")
             .answer(200, "revoked", Schema::object({{"revoked", Schema::boolean()}}))
             .error(404, "Session not found")},
        {"DELETE", "/users/{id}", wrap(&AuthRoutes::deleteUser), false,
         RouteDoc("Deletes an account everywhere: its sessions and tokens end, signaling and "
                  "messaging drop what they hold of it (user.deleted)")
             .answer(200, "deleted",
                     Schema::object({{"deleted", Schema::boolean()}, {"id", Schema::integer()}}))
             .error(400, "user id must be a positive integer")
             .error(403, "an account from the config cannot be deleted here")
             .error(404, "Account not found")
             .error(503, "account store unavailable (Retry-After)")}};
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
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    std::vector<UserRow> rows;
    std::int64_t total = 0;
    try {
        rows = rt.accounts->rows(page.likePattern(), page.limit, page.offset, total);
    } catch (const AccountError& e) {
        e.answer(resp);
        return;
    }
    resp.json(200, page.body([&](Writer& w) {
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
        return static_cast<std::uint64_t>(total);
    }));
}

void AuthRoutes::listSessions(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    std::optional<std::int64_t> user;
    if (!req.query("user_id").empty()) {
        std::uint64_t id = 0;
        if (!queryNumber(req, resp, "user_id", 0, INT64_MAX, id)) {
            return;
        }
        user = static_cast<std::int64_t>(id);
    }
    auto sessions = rt.sessions->list(user);
    resp.json(200, page.body([&](Writer& w) {
        std::uint64_t total = 0;
        for (const auto& s : sessions) {
            if (!page.matches(s.login) || !page.onPage(total++)) {
                continue;
            }
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
        return total;
    }));
}

void AuthRoutes::revokeSession(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    if (!rt.sessions->revoke(req.param("id"), "admin")) {
        resp.error(404, "Session not found");
        return;
    }
    recordAudit(*rt.context, "admin", req.clientAddress(), "session.revoked",
                "{\"session_id\":" + json::quote(req.param("id")) + "}");
    resp.json(200, "{\"revoked\":true}");
}

void AuthRoutes::deleteUser(const HttpRequest& req, HttpResponse& resp, const Runtime& rt) {
    std::string text = req.param("id");
    std::int64_t id = 0;
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string::npos ||
        !Poco::NumberParser::tryParse64(text, id)) {
        resp.error(400, "user id must be a positive integer");
        return;
    }
    // The same path as DELETE /account and the chat DEL: sessions and tokens end,
    // user.deleted goes out (signaling and messaging drop what they hold of the account).
    try {
        rt.accounts->removeAs(id, "admin", req.clientAddress());
    } catch (const AccountError& e) {
        e.answer(resp);
        return;
    }
    resp.json(200, "{\"deleted\":true,\"id\":" + std::to_string(id) + "}");
}

}  // namespace switchboard::auth
