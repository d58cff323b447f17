// Signaling admin handlers (see SignalingAdminRoutes.h).
#include "SignalingAdminRoutes.h"

#include <Poco/Logger.h>

#include "SignalingRoutes.h"
#include "switchboard/Json.h"

namespace switchboard::signaling {

namespace {

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

/// Parses limit and offset; answers 400 and returns false when one is not a number in range.
bool page(const HttpRequest& req, HttpResponse& resp, std::size_t& limit, std::size_t& offset) {
    auto number = [](const std::string& text, std::size_t& out) {
        if (text.empty() || text.size() > 12) {
            return false;
        }
        std::size_t v = 0;
        for (char c : text) {
            if (c < '0' || c > '9') {
                return false;
            }
            v = v * 10 + static_cast<std::size_t>(c - '0');
        }
        out = v;
        return true;
    };
    limit = kDefaultLimit;
    offset = 0;
    std::string l = req.query("limit");
    std::string o = req.query("offset");
    if (!l.empty() && (!number(l, limit) || limit < 1 || limit > kMaxLimit)) {
        resp.error(400, "limit must be a number from 1 to 1000");
        return false;
    }
    if (!o.empty() && !number(o, offset)) {
        resp.error(400, "offset must be a non-negative number");
        return false;
    }
    return true;
}

/// Opens the list object: total, limit, offset and the "items" key.
void startPage(json::Writer& w, std::uint64_t total, std::size_t limit, std::size_t offset) {
    w.StartObject();
    w.Key("total");
    w.Uint64(total);
    w.Key("limit");
    w.Uint64(limit);
    w.Key("offset");
    w.Uint64(offset);
    w.Key("items");
}

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
    return {{"GET", "/organizations", handler(&SignalingAdminRoutes::organizations)},
            {"GET", "/organizations/{id}", handler(&SignalingAdminRoutes::organization)},
            {"DELETE", "/organizations/{id}", handler(&SignalingAdminRoutes::removeOrganization)},
            {"GET", "/peers", handler(&SignalingAdminRoutes::peers)},
            {"DELETE", "/peers/{organization}/{peer}", handler(&SignalingAdminRoutes::kick)}};
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
    std::size_t limit = 0;
    std::size_t offset = 0;
    if (!page(req, resp, limit, offset)) {
        return;
    }
    std::int64_t total = 0;
    std::vector<std::pair<Organization, std::int64_t>> rows;
    try {
        for (auto& org : _store->list(limit, offset, total)) {
            std::int64_t members = _store->memberCount(org.id);
            rows.emplace_back(std::move(org), members);
        }
    } catch (const std::exception& e) {
        _context->logger().warning("signaling store: %s", std::string(e.what()));
        resp.storeUnavailable("cannot read the organizations");
        return;
    }
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    startPage(w, static_cast<std::uint64_t>(total), limit, offset);
    w.StartArray();
    for (const auto& [org, members] : rows) {
        writeOrganization(w, org, false);
        w.Key("members");
        w.Int64(members);
        w.Key("online");
        w.Uint64(_registry.onlineIn(org.id));
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp.json(200, text(buffer));
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
    _context->logger().information("organization %Ld deleted by the operator (%z peers closed)",
                                   static_cast<Poco::Int64>(id), closed);
    resp.json(200, "{\"deleted\":true,\"organization_id\":" + std::to_string(id) +
                       ",\"peers_closed\":" + std::to_string(closed) + "}");
}

void SignalingAdminRoutes::peers(const HttpRequest& req, HttpResponse& resp) {
    std::size_t limit = 0;
    std::size_t offset = 0;
    if (!page(req, resp, limit, offset)) {
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
    auto listed = _registry.list(org, limit, offset, total);
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    startPage(w, total, limit, offset);
    w.StartArray();
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
    w.EndArray();
    w.EndObject();
    resp.json(200, text(buffer));
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
    resp.json(200, "{\"kicked\":true}");
}

}  // namespace switchboard::signaling
