// Messaging admin routes (see MessagingAdminRoutes.h).
#include "MessagingAdminRoutes.h"

#include <cstdlib>

#include "switchboard/Json.h"

namespace switchboard::messaging {

namespace {

/// A non-negative decimal query parameter, or `def`; false if it is not one.
bool number(const HttpRequest& req, const char* name, std::uint64_t def, std::uint64_t& out) {
    std::string text = req.query(name);
    if (text.empty()) {
        out = def;
        return true;
    }
    if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
        return false;
    }
    out = std::strtoull(text.c_str(), nullptr, 10);
    return true;
}

}  // namespace

std::vector<Route> MessagingAdminRoutes::routes() {
    return {{"GET", "/connections",
             [this](const HttpRequest& req, HttpResponse& resp) { list(req, resp); }},
            {"POST", "/connections/{id}/kick",
             [this](const HttpRequest& req, HttpResponse& resp) { kick(req, resp); }}};
}

std::vector<AdminView> MessagingAdminRoutes::views() {
    return {{"connections",
             "Chat connections",
             "/connections",
             {{"id", "Connection"},
              {"login", "Login"},
              {"user_id", "User"},
              {"peer", "Address"},
              {"opened_at", "Opened", "time"},
              {"logged_in_at", "Logged in", "time"},
              {"messages_sent", "Messages sent"}},
             {{"Kick", "POST", "/connections/{id}/kick", "row", "Close this chat connection?"}},
             false,
             true}};
}

void MessagingAdminRoutes::list(const HttpRequest& req, HttpResponse& resp) {
    std::uint64_t limit = 0, offset = 0;
    if (!number(req, "limit", 100, limit) || limit < 1 || limit > 1000) {
        resp.error(400, "limit must be an integer between 1 and 1000");
        return;
    }
    if (!number(req, "offset", 0, offset)) {
        resp.error(400, "offset must be a non-negative integer");
        return;
    }
    auto all = _handler.connections();
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    w.Key("connections");
    w.StartArray();
    for (std::size_t i = offset; i < all.size() && i < offset + limit; ++i) {
        const auto& c = all[i];
        w.StartObject();
        w.Key("id");
        w.Uint64(c.id);
        json::writeString(w, "peer", c.peer);
        w.Key("user_id");
        if (c.userId == 0) {
            w.Null();
        } else {
            w.Int64(c.userId);
        }
        json::writeStringOrNull(w, "login", c.login);
        json::writeTimeOrNull(w, "opened_at", c.openedAt);
        json::writeTimeOrNull(w, "logged_in_at", c.loggedInAt);
        w.Key("messages_sent");
        w.Uint64(c.messagesSent);
        w.EndObject();
    }
    w.EndArray();
    w.Key("total");
    w.Uint64(all.size());
    w.Key("limit");
    w.Uint64(limit);
    w.Key("offset");
    w.Uint64(offset);
    w.EndObject();
    resp.json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

void MessagingAdminRoutes::kick(const HttpRequest& req, HttpResponse& resp) {
    std::string text = req.param("id");
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        resp.error(400, "connection id must be a number");
        return;
    }
    std::uint64_t id = std::strtoull(text.c_str(), nullptr, 10);
    if (!_handler.kick(id, "Disconnected by an operator")) {
        resp.error(404, "No such connection");
        return;
    }
    resp.json(200, "{\"kicked\":" + std::to_string(id) + "}");
}

}  // namespace switchboard::messaging
