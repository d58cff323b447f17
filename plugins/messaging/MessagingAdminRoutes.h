// The messaging plugin's admin routes (/admin/api/messaging/...): the open chat connections
// (paginated) and kicking one. Errors are {"error": "<what is wrong>"} like every admin route.
#pragma once

#include <vector>

#include "ChatHandler.h"
#include "switchboard/AdminView.h"
#include "switchboard/Http.h"

namespace switchboard::messaging {

class MessagingAdminRoutes {
public:
    explicit MessagingAdminRoutes(ChatHandler& handler) : _handler(handler) {}
    /// Paths relative to /admin/api/messaging.
    std::vector<Route> routes();
    /// The console's views of these routes (AdminView.h).
    static std::vector<AdminView> views();

private:
    /// GET /connections?limit=&offset= → {"connections": [...], "total": n}
    void list(const HttpRequest& req, HttpResponse& resp);
    /// POST /connections/{id}/kick → DIS{"msg": "Disconnected by an operator"} and close.
    void kick(const HttpRequest& req, HttpResponse& resp);

    ChatHandler& _handler;
};

}  // namespace switchboard::messaging
