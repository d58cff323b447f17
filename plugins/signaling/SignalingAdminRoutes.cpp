// Signaling admin handlers (see SignalingAdminRoutes.h).
#include "SignalingAdminRoutes.h"

#include <Poco/Logger.h>

#include "SignalingRoutes.h"
#include "switchboard/Audit.h"
#include "switchboard/Json.h"
#include "switchboard/Paging.h"

namespace switchboard::signaling {

namespace {

std::string text(const rapidjson::StringBuffer& buffer) {
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

void SignalingAdminRoutes::bind(HostContext* context, SignalingStore* store) {
    _context = context;
    _store = store;
}

std::vector<Route> SignalingAdminRoutes::routes() {
    auto handler = [this](void (SignalingAdminRoutes::*method)(const HttpRequest&, HttpResponse&)) {
        return [this, method](const HttpRequest& req, HttpResponse& resp) {
            (this->*method)(req, resp);
        };
    };
    Schema listed = Schema::object({{"id", Schema::integer()},
                                    {"name", Schema::string()},
                                    {"subnet", Schema::string()},
                                    {"owner_id", Schema::integer()},
                                    {"created_at", Schema::time()},
                                    {"members", Schema::integer()},
                                    {"online", Schema::integer("peers online now")}});
    Schema detail = Schema::object(
        {{"id", Schema::integer()},
         {"name", Schema::string()},
         {"subnet", Schema::string()},
         {"owner_id", Schema::integer()},
         {"created_at", Schema::time()},
         {"online", Schema::integer("peers online now")},
         {"members", Schema::array(Schema::object({{"user_id", Schema::integer()},
                                                   {"virtual_ip", Schema::string().orNull()},
                                                   {"joined_at", Schema::time()}}))}});
    Schema peer =
        Schema::object({{"organization_id", Schema::integer()},
                        {"peer", Schema::anyObject("the peer as announced to the organization")},
                        {"connection_id", Schema::string()},
                        {"remote_address", Schema::string()},
                        {"registered_at", Schema::time()},
                        {"connected", Schema::boolean("false while in its reconnect grace")}});
    return {
        {"GET", "/organizations", handler(&SignalingAdminRoutes::organizations), false,
         RouteDoc("Every organization by id, a page at a time")
             .paged(listed, "the organization's name")
             .error(503, "cannot read the organizations (Retry-After)")},
        {"GET", "/organizations/{id}", handler(&SignalingAdminRoutes::organization), false,
         RouteDoc("One organization with its members")
             .answer(200, "the organization", detail)
             .error(404, "organization not found")
             .error(503, "cannot read the organization (Retry-After)")},
        {"DELETE", "/organizations/{id}", handler(&SignalingAdminRoutes::removeOrganization), false,
         RouteDoc("Deletes an organization with its members and addresses; its peers are closed")
             .answer(200, "deleted",
                     Schema::object({{"deleted", Schema::boolean()},
                                     {"organization_id", Schema::integer()},
                                     {"peers_closed", Schema::integer()}}))
             .error(404, "organization not found")
             .error(503, "cannot delete the organization (Retry-After)")},
        {"GET", "/peers", handler(&SignalingAdminRoutes::peers), false,
         RouteDoc("The peers registered on this node, a page at a time")
             .param("organization_id", "only this organization's peers", Schema::integer())
             .paged(peer)
             .error(400, "organization_id must be a positive number")},
        {"DELETE", "/peers/{organization}/{peer}", handler(&SignalingAdminRoutes::kick), false,
         RouteDoc("Kicks a peer (close 4001; peer_offline is announced at once)")
             .answer(200, "kicked", Schema::object({{"kicked", Schema::boolean()}}))
             .error(404, "peer not found")}};
}

std::vector<AdminView> SignalingAdminRoutes::views() {
    return {{"organizations",
             "Organizations",
             "/organizations",
             {{"id", "Id"},
              {"name", "Name"},
              {"subnet", "Subnet"},
              {"members", "Members"},
              {"online", "Online peers"},
              {"created_at", "Created", "time"}},
             {{"Members", "GET", "/organizations/{id}"},
              {"Delete", "DELETE", "/organizations/{id}", "row",
               "Delete this organization, its members and their addresses?"}},
             false,
             true},
            {"peers",
             "Online peers",
             "/peers",
             {{"organization_id", "Organization"},
              {"peer.peer_id", "Peer"},
              {"peer.email", "User"},
              {"peer.virtual_ip", "Virtual IP"},
              {"remote_address", "Address"},
              {"registered_at", "Since", "time"},
              {"connected", "Connected", "bool"}},
             {{"Kick", "DELETE", "/peers/{organization_id}/{peer.peer_id}", "row",
               "Disconnect this peer?"}},
             false,
             true}};
}

void SignalingAdminRoutes::organizations(const HttpRequest& req, HttpResponse& resp) {
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    std::int64_t total = 0;
    std::vector<std::pair<Organization, std::int64_t>> rows;
    try {
        for (auto& org : _store->list(page.likePattern(), page.limit, page.offset, total)) {
            std::int64_t members = _store->memberCount(org.id);
            rows.emplace_back(std::move(org), members);
        }
    } catch (const std::exception& e) {
        _context->logger().warning("signaling store: %s", std::string(e.what()));
        resp.storeUnavailable("cannot read the organizations");
        return;
    }
    resp.json(200, page.body([&](json::Writer& w) {
        for (const auto& [org, members] : rows) {
            writeOrganization(w, org, false);
            w.Key("members");
            w.Int64(members);
            w.Key("online");
            w.Uint64(_registry.onlineIn(org.id));
            w.EndObject();
        }
        return static_cast<std::uint64_t>(total);
    }));
}

void SignalingAdminRoutes::organization(const HttpRequest& req, HttpResponse& resp) {
    std::int64_t id = organizationId(req.param("id"));
    std::optional<Organization> org;
    std::vector<Member> members;
    try {
        if (id > 0) {
            org = _store->find(id);
        }
        if (org) {
            members = _store->members(id);
        }
    } catch (const std::exception& e) {
        _context->logger().warning("signaling store: %s", std::string(e.what()));
        resp.storeUnavailable("cannot read the organization");
        return;
    }
    if (!org) {
        resp.error(404, "organization not found");
        return;
    }
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    writeOrganization(w, *org, false);
    w.Key("online");
    w.Uint64(_registry.onlineIn(org->id));
    w.Key("members");
    w.StartArray();
    for (const auto& m : members) {
        w.StartObject();
        w.Key("user_id");
        w.Int64(m.userId);
        json::writeStringOrNull(w, "virtual_ip", m.address ? addressText(*m.address) : "");
        w.Key("joined_at");
        w.Double(m.joinedAt);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp.json(200, text(buffer));
}

void SignalingAdminRoutes::removeOrganization(const HttpRequest& req, HttpResponse& resp) {
    std::int64_t id = organizationId(req.param("id"));
    bool removed = false;
    try {
        removed = id > 0 && _store->remove(id);
    } catch (const std::exception& e) {
        _context->logger().warning("signaling store: %s", std::string(e.what()));
        resp.storeUnavailable("cannot delete the organization");
        return;
    }
    if (!removed) {
        resp.error(404, "organization not found");
        return;
    }
    std::size_t closed =
        _registry.removeOrganization(id, OfflineReason::Left, 1000, "organization deleted");
    _presence.removed(id, 0);
    _context->logger().information("organization %Ld deleted by the operator (%z peers closed)",
                                   static_cast<Poco::Int64>(id), closed);
    recordAudit(*_context, "admin", req.clientAddress(), "organization.deleted",
                "{\"organization_id\":" + std::to_string(id) + "}");
    resp.json(200, "{\"deleted\":true,\"organization_id\":" + std::to_string(id) +
                       ",\"peers_closed\":" + std::to_string(closed) + "}");
}

void SignalingAdminRoutes::peers(const HttpRequest& req, HttpResponse& resp) {
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    std::optional<std::int64_t> org;
    std::string filter = req.query("organization_id");
    if (!filter.empty()) {
        std::int64_t id = organizationId(filter);
        if (id <= 0) {
            resp.error(400, "organization_id must be a positive number");
            return;
        }
        org = id;
    }
    std::size_t total = 0;
    auto listed = _registry.list(org, page.limit, page.offset, total);
    resp.json(200, page.body([&](json::Writer& w) {
        for (const auto& item : listed) {
            const Peer& p = *item.peer;
            w.StartObject();
            w.Key("organization_id");
            w.Int64(p.organizationId);
            w.Key("peer");
            w.RawValue(p.json.data(), p.json.size(), rapidjson::kObjectType);
            json::writeString(w, "connection_id", p.connectionId);
            json::writeString(w, "remote_address", p.remoteAddress);
            w.Key("registered_at");
            w.Double(p.registeredAt);
            w.Key("connected");
            w.Bool(item.connected);
            w.EndObject();
        }
        return static_cast<std::uint64_t>(total);
    }));
}

void SignalingAdminRoutes::kick(const HttpRequest& req, HttpResponse& resp) {
    std::int64_t org = organizationId(req.param("organization"));
    std::string peer = req.param("peer");
    if (org <= 0 ||
        !_registry.kick(org, peer, OfflineReason::Closed, 4001, "closed by the operator")) {
        resp.error(404, "peer not found");
        return;
    }
    _context->logger().information("peer %s of organization %Ld kicked by the operator", peer,
                                   static_cast<Poco::Int64>(org));
    recordAudit(
        *_context, "admin", req.clientAddress(), "peer.kicked",
        "{\"organization_id\":" + std::to_string(org) + ",\"peer_id\":" + json::quote(peer) + "}");
    resp.json(200, "{\"kicked\":true}");
}

}  // namespace switchboard::signaling
