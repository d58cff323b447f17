// Operator routes under /admin/api/signaling: organizations (list, show, delete) and the peers
// online on this node (list, kick). Lists take limit (default 100, at most 1000) and offset and
// answer {"total", "limit", "offset", "items"}.
#pragma once

#include <memory>
#include <vector>

#include "ClusterPresence.h"
#include "PeerRegistry.h"
#include "SignalingStore.h"
#include "switchboard/AdminView.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"

namespace switchboard::signaling {

class SignalingAdminRoutes {
public:
    SignalingAdminRoutes(PeerRegistry& registry, ClusterPresence& presence)
        : _registry(registry), _presence(presence) {}
    void bind(HostContext* context, SignalingStore* store);
    std::vector<Route> routes();
    /// The console's views of these routes (AdminView.h).
    static std::vector<AdminView> views();

private:
    void organizations(const HttpRequest& req, HttpResponse& resp);
    void organization(const HttpRequest& req, HttpResponse& resp);
    void removeOrganization(const HttpRequest& req, HttpResponse& resp);
    void peers(const HttpRequest& req, HttpResponse& resp);
    void kick(const HttpRequest& req, HttpResponse& resp);

    PeerRegistry& _registry;
    ClusterPresence& _presence;
    HostContext* _context = nullptr;
    SignalingStore* _store = nullptr;
};

}  // namespace switchboard::signaling
