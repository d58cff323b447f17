// The signaling REST API on the plugin's listener (seed 001): organizations, membership and
// virtual IP allocation, every route with `Authorization: Bearer <jwt>` from the auth plugin.
// Errors are {"error": message, "detail": message}: our shape and the FastAPI seed's at once.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "ClusterPresence.h"
#include "PeerRegistry.h"
#include "SignalingConfig.h"
#include "SignalingStore.h"
#include "switchboard/Accounts.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"
#include "switchboard/Json.h"

namespace switchboard::signaling {

/// {"error": message, "detail": message} with `status`.
void answerError(HttpResponse& resp, int status, const std::string& message);
/// The organization object: id, name, subnet, owner_id, created_at.
void writeOrganization(json::Writer& w, const Organization& org, bool close = true);
/// The organization id of a `{id}` route segment, or 0 if it is not a positive number.
std::int64_t organizationId(const std::string& segment);

class SignalingRoutes {
public:
    SignalingRoutes(std::shared_ptr<const SignalingConfig> config, PeerRegistry& registry,
                    ClusterPresence& presence);
    void bind(HostContext* context, SignalingStore* store);
    std::vector<Route> routes();

private:
    /// The caller's account, or answers 401 ("No token provided", "Invalid token") or 503.
    std::optional<Identity> caller(const HttpRequest& req, HttpResponse& resp);
    /// The organization of the path, answering 404 when there is none; with `member` also
    /// 403 unless `user` is a member.
    std::optional<Organization> organization(const HttpRequest& req, HttpResponse& resp,
                                             std::int64_t user, bool member);

    /// caller() and organization() for a route of members: both set, or the answer given.
    std::pair<std::optional<Identity>, std::optional<Organization>> member(const HttpRequest& req,
                                                                           HttpResponse& resp);

    void create(const HttpRequest& req, HttpResponse& resp);
    void mine(const HttpRequest& req, HttpResponse& resp);
    void join(const HttpRequest& req, HttpResponse& resp);
    void leave(const HttpRequest& req, HttpResponse& resp);
    void addMember(const HttpRequest& req, HttpResponse& resp);
    void members(const HttpRequest& req, HttpResponse& resp);
    void allocate(const HttpRequest& req, HttpResponse& resp);
    void ips(const HttpRequest& req, HttpResponse& resp);

    const std::shared_ptr<const SignalingConfig> _config;
    PeerRegistry& _registry;
    ClusterPresence& _presence;
    HostContext* _context = nullptr;
    SignalingStore* _store = nullptr;
};

}  // namespace switchboard::signaling
