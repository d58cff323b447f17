// Messaging admin routes (see MessagingAdminRoutes.h).
#include "MessagingAdminRoutes.h"

#include <cstdlib>

#include "switchboard/Audit.h"
#include "switchboard/Json.h"
#include "switchboard/Paging.h"

namespace switchboard::messaging {

std::vector<Route> MessagingAdminRoutes::routes() {
    Schema connection = Schema::object({{"id", Schema::integer()},
                                        {"peer", Schema::string("the client's address")},
                                        {"user_id", Schema::integer().orNull()},
                                        {"login", Schema::string().orNull()},
                                        {"opened_at", Schema::time().orNull()},
                                        {"logged_in_at", Schema::time().orNull()},
                                        {"messages_sent", Schema::integer()}});
    return {{"GET", "/connections",
             [this](const HttpRequest& req, HttpResponse& resp) { list(req, resp); }, false,
             RouteDoc("The open chat connections by id, a page at a time")
                 .paged(connection, "the login or the peer address")},
            {"POST", "/connections/{id}/kick",
             [this](const HttpRequest& req, HttpResponse& resp) { kick(req, resp); }, false,
             RouteDoc("Disconnects a chat connection (DIS, then close)")
                 .answer(200, "kicked", Schema::object({{"kicked", Schema::integer()}}))
                 .error(400, "connection id must be a number")
                 .error(404, "No such connection")}};
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
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    auto all = _handler.connections();
    resp.json(200, page.body([&](json::Writer& w) {
        std::uint64_t total = 0;
        for (const auto& c : all) {
            if (!page.matches(c.login) && !page.matches(c.peer)) {
                continue;
            }
            if (!page.onPage(total++)) {
                continue;
            }
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
        return total;
    }));
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
    recordAudit(_handler.context(), "admin", req.clientAddress(), "chat.kicked",
                "{\"connection_id\":" + std::to_string(id) + "}");
    resp.json(200, "{\"kicked\":" + std::to_string(id) + "}");
}

}  // namespace switchboard::messaging
