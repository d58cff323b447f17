// Signaling REST handlers (see SignalingRoutes.h).
#include "SignalingRoutes.h"

#include <Poco/Logger.h>

namespace switchboard::signaling {

namespace {

constexpr const char* kNotMember = "Not a member of this organization";
constexpr const char* kNotFound = "Organization not found";

std::string text(const rapidjson::StringBuffer& buffer) {
    return std::string(buffer.GetString(), buffer.GetSize());
}

/// Runs a store call, answering 503 naming `what` when the store fails.
template <class F>
bool guarded(HostContext* context, HttpResponse& resp, const char* what, F&& call) {
    try {
        call();
        return true;
    } catch (const std::exception& e) {
        context->logger().warning("signaling store: %s: %s", std::string(what),
                                  std::string(e.what()));
        resp.storeUnavailableBody("{\"error\":\"" + std::string(what) + "\",\"detail\":\"" +
                                  std::string(what) + "\"}");
        return false;
    }
}

/// The account `userId`, or nullopt when it is gone or cannot be read (listed without names).
std::optional<Identity> lookup(const std::shared_ptr<Accounts>& accounts, std::int64_t userId) {
    if (!accounts) {
        return std::nullopt;
    }
    try {
        return accounts->findById(userId);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace

void answerError(HttpResponse& resp, int status, const std::string& message) {
    std::string quoted = json::quote(message);
    resp.json(status, "{\"error\":" + quoted + ",\"detail\":" + quoted + "}");
}

void writeOrganization(json::Writer& w, const Organization& org, bool close) {
    w.StartObject();
    w.Key("id");
    w.Int64(org.id);
    json::writeString(w, "name", org.name);
    json::writeString(w, "subnet", org.subnet.text());
    w.Key("owner_id");
    w.Int64(org.ownerId);
    w.Key("created_at");
    w.Double(org.createdAt);
    if (close) {
        w.EndObject();
    }
}

std::int64_t organizationId(const std::string& segment) {
    if (segment.empty() || segment.size() > 18) {
        return 0;
    }
    std::int64_t id = 0;
    for (char c : segment) {
        if (c < '0' || c > '9') {
            return 0;
        }
        id = id * 10 + (c - '0');
    }
    return id;
}

SignalingRoutes::SignalingRoutes(std::shared_ptr<const SignalingConfig> config,
                                 PeerRegistry& registry, ClusterPresence& presence)
    : _config(std::move(config)), _registry(registry), _presence(presence) {}

void SignalingRoutes::bind(HostContext* context, SignalingStore* store) {
    _context = context;
    _store = store;
}

std::vector<Route> SignalingRoutes::routes() {
    auto handler = [this](void (SignalingRoutes::*method)(const HttpRequest&, HttpResponse&)) {
        return [this, method](const HttpRequest& req, HttpResponse& resp) {
            (this->*method)(req, resp);
        };
    };
    // Errors carry the message twice: ours and FastAPI's shape (the seed's clients read both).
    Schema error = Schema::object({{"error", Schema::string()}, {"detail", Schema::string()}});
    Schema org = Schema::object({{"id", Schema::integer()},
                                 {"name", Schema::string()},
                                 {"subnet", Schema::string("IPv4 CIDR, e.g. 10.0.0.0/24")},
                                 {"owner_id", Schema::integer()},
                                 {"created_at", Schema::time()}});
    Schema message =
        Schema::object({{"message", Schema::string()}, {"organization_id", Schema::integer()}});
    // Every route: a bearer token from POST /login; the organization's routes add 403/404.
    auto doc = [&](const std::string& summary) {
        return RouteDoc(summary)
            .auth({"bearerToken",
                   "{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":"
                   "\"JWT\",\"description\":\"access_token of POST /login\"}"})
            .error(401, "No token provided, or Invalid token", error)
            .error(503, "the store failed (Retry-After)", error);
    };
    auto member = [&](const std::string& summary) {
        return doc(summary)
            .error(403, "Not a member of this organization", error)
            .error(404, "Organization not found", error);
    };
    return {
        {"POST", "/organizations", handler(&SignalingRoutes::create), false,
         doc("Creates an organization; the creator joins it")
             .body(Schema::object({{"name", Schema::string()},
                                   {"subnet", Schema::string("IPv4 CIDR from /8 to /30")}}))
             .answer(200, "the organization", org)
             .error(400, "the name or the subnet is invalid (the message names it)", error)
             .error(403, "Organization limit reached", error)},
        {"GET", "/organizations", handler(&SignalingRoutes::mine), false,
         doc("The caller's organizations, by join time")
             .answer(200, "the organizations", Schema::array(org))},
        {"POST", "/organizations/{id}/join", handler(&SignalingRoutes::join), false,
         doc("Joins an organization")
             .answer(200, "Joined organization, or Already a member", message)
             .error(403, "Only the owner adds members to this organization (join_policy owner)",
                    error)
             .error(404, "Organization not found", error)},
        {"POST", "/organizations/{id}/leave", handler(&SignalingRoutes::leave), false,
         member("Leaves an organization: its address is released, its agents closed")
             .answer(200, "Left organization", message)},
        {"GET", "/organizations/{id}/members", handler(&SignalingRoutes::members), false,
         member("The organization's members")
             .answer(200, "the members",
                     Schema::array(Schema::object({{"user_id", Schema::integer()},
                                                   {"email", Schema::string().orNull()},
                                                   {"username", Schema::string().orNull()},
                                                   {"virtual_ip", Schema::string().orNull()},
                                                   {"joined_at", Schema::time()},
                                                   {"is_owner", Schema::boolean()}})))},
        {"POST", "/organizations/{id}/members", handler(&SignalingRoutes::addMember), false,
         member("Adds a member by user id or email (the owner only)")
             .body(Schema::object(
                 {optional("user_id", Schema::integer()), optional("email", Schema::string())}))
             .answer(200, "Member added, or Already a member",
                     Schema::object({{"message", Schema::string()},
                                     {"organization_id", Schema::integer()},
                                     {"user_id", Schema::integer()}}))
             .error(400, "user_id or email is required", error)
             .error(404, "User not found", error)},
        {"POST", "/organizations/{id}/allocate_ip", handler(&SignalingRoutes::allocate), false,
         member("Allocates the caller's virtual IP in the organization (the same one each time)")
             .body(Schema::anyObject(), false)
             .answer(200, "the address",
                     Schema::object({{"virtual_ip", Schema::string()},
                                     {"organization_id", Schema::integer()},
                                     {"user_id", Schema::integer()},
                                     {"subnet", Schema::string()},
                                     {"created", Schema::boolean("false: allocated before")}}))
             .error(409, "No free IP address left in the subnet", error)},
        {"GET", "/organizations/{id}/ips", handler(&SignalingRoutes::ips), false,
         member("The organization's allocated addresses")
             .answer(200, "the addresses",
                     Schema::array(Schema::object({{"virtual_ip", Schema::string()},
                                                   {"user_id", Schema::integer()},
                                                   {"email", Schema::string().orNull()},
                                                   {"allocated_at", Schema::time()}})))}};
}

std::optional<Identity> SignalingRoutes::caller(const HttpRequest& req, HttpResponse& resp) {
    std::string token = req.bearerToken();
    if (token.empty()) {
        answerError(resp, 401, "No token provided");
        resp.setHeader("WWW-Authenticate", "Bearer");
        return std::nullopt;
    }
    auto accounts = _context->services().find<Accounts>("accounts");
    std::optional<Identity> who;
    try {
        if (accounts) {
            who = accounts->verifyBearer(token);
        }
    } catch (const std::exception& e) {
        _context->logger().warning("cannot check a bearer token: %s", std::string(e.what()));
        accounts = nullptr;
    }
    if (!accounts) {
        resp.storeUnavailableBody(
            "{\"error\":\"authentication unavailable\",\"detail\":\"authentication "
            "unavailable\"}");
        return std::nullopt;
    }
    if (!who) {
        answerError(resp, 401, "Invalid token");
        resp.setHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    }
    return who;
}

std::optional<Organization> SignalingRoutes::organization(const HttpRequest& req,
                                                          HttpResponse& resp, std::int64_t user,
                                                          bool member) {
    std::int64_t id = organizationId(req.param("id"));
    std::optional<Organization> org;
    bool isMember = false;
    if (id > 0 && !guarded(_context, resp, "cannot read the organization", [&] {
            org = _store->find(id);
            isMember = org && member && _store->isMember(id, user);
        })) {
        return std::nullopt;
    }
    if (!org) {
        answerError(resp, 404, kNotFound);
        return std::nullopt;
    }
    if (member && !isMember) {
        answerError(resp, 403, kNotMember);
        return std::nullopt;
    }
    return org;
}

std::pair<std::optional<Identity>, std::optional<Organization>> SignalingRoutes::member(
    const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return {};
    }
    auto org = organization(req, resp, who->id, true);
    return {who, org};
}

void SignalingRoutes::create(const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return;
    }
    rapidjson::Document body;
    std::string problem;
    if (!json::parseBody(req, body, problem)) {
        answerError(resp, 400, problem);
        return;
    }
    std::string name;
    std::string subnetText;
    if (!json::requireString(body, "name", name, problem) ||
        !json::requireString(body, "subnet", subnetText, problem)) {
        answerError(resp, 400, problem);
        return;
    }
    if (name.empty()) {
        answerError(resp, 400, "name must not be empty");
        return;
    }
    if (name.size() > _config->maxNameLength) {
        answerError(
            resp, 400,
            "name is too long (limit " + std::to_string(_config->maxNameLength) + " bytes)");
        return;
    }
    auto subnet = Subnet::parse(subnetText, problem);
    if (!subnet) {
        answerError(resp, 400, problem);
        return;
    }
    std::optional<Organization> org;
    if (!guarded(_context, resp, "cannot store the organization", [&] {
            org = _store->create(name, *subnet, who->id, _config->maxOrganizationsPerUser);
        })) {
        return;
    }
    if (!org) {
        answerError(resp, 403,
                    "Organization limit reached (" +
                        std::to_string(_config->maxOrganizationsPerUser) + " per user)");
        return;
    }
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    writeOrganization(w, *org);
    resp.json(200, text(buffer));
}

void SignalingRoutes::mine(const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return;
    }
    std::vector<Organization> orgs;
    if (!guarded(_context, resp, "cannot read the organizations",
                 [&] { orgs = _store->organizationsOf(who->id); })) {
        return;
    }
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartArray();
    for (const auto& org : orgs) {
        writeOrganization(w, org);
    }
    w.EndArray();
    resp.json(200, text(buffer));
}

void SignalingRoutes::join(const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return;
    }
    auto org = organization(req, resp, who->id, false);
    if (!org) {
        return;
    }
    if (_config->joinPolicy == "owner" && org->ownerId != who->id) {
        bool member = false;
        if (!guarded(_context, resp, "cannot read the membership",
                     [&] { member = _store->isMember(org->id, who->id); })) {
            return;
        }
        if (!member) {
            answerError(resp, 403, "Only the owner adds members to this organization");
            return;
        }
    }
    bool joined = false;
    if (!guarded(_context, resp, "cannot store the membership",
                 [&] { joined = _store->join(org->id, who->id); })) {
        return;
    }
    resp.json(200, "{\"message\":\"" +
                       std::string(joined ? "Joined organization" : "Already a member") +
                       "\",\"organization_id\":" + std::to_string(org->id) + "}");
}

void SignalingRoutes::leave(const HttpRequest& req, HttpResponse& resp) {
    auto [who, org] = member(req, resp);
    if (!org) {
        return;
    }
    bool left = false;
    if (!guarded(_context, resp, "cannot store the membership",
                 [&] { left = _store->leave(org->id, who->id); })) {
        return;
    }
    if (!left) {
        answerError(resp, 403, kNotMember);  // left meanwhile, from another request
        return;
    }
    _registry.removeUser(who->id, org->id, OfflineReason::Left, 1000, "left the organization");
    _presence.removed(org->id, who->id);
    resp.json(200, "{\"message\":\"Left organization\",\"organization_id\":" +
                       std::to_string(org->id) + "}");
}

void SignalingRoutes::addMember(const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return;
    }
    rapidjson::Document body;
    std::string problem;
    if (!json::parseBody(req, body, problem)) {
        answerError(resp, 400, problem);
        return;
    }
    std::int64_t userId = 0;
    std::string email;
    if (body.HasMember("user_id")) {
        if (!json::requireInt(body, "user_id", userId, problem)) {
            answerError(resp, 400, problem);
            return;
        }
    } else if (!json::requireString(body, "email", email, problem)) {
        answerError(resp, 400, "user_id or email is required");
        return;
    }
    auto org = organization(req, resp, who->id, false);
    if (!org) {
        return;
    }
    if (org->ownerId != who->id) {
        answerError(resp, 403, "Only the owner adds members to this organization");
        return;
    }
    auto accounts = _context->services().find<Accounts>("accounts");
    std::optional<Identity> identity;
    try {
        if (accounts) {
            identity = userId > 0 ? accounts->findById(userId)
                                  : (email.find('@') != std::string::npos ? accounts->find(email)
                                                                          : std::nullopt);
        }
    } catch (const std::exception& e) {
        _context->logger().warning("cannot look up an account: %s", std::string(e.what()));
        accounts = nullptr;
    }
    if (!accounts) {
        resp.storeUnavailableBody(
            "{\"error\":\"cannot look up the account\",\"detail\":\"cannot look up the "
            "account\"}");
        return;
    }
    if (!identity) {
        answerError(resp, 404, "User not found");
        return;
    }
    bool joined = false;
    if (!guarded(_context, resp, "cannot store the membership",
                 [&] { joined = _store->join(org->id, identity->id); })) {
        return;
    }
    resp.json(200, "{\"message\":\"" + std::string(joined ? "Member added" : "Already a member") +
                       "\",\"organization_id\":" + std::to_string(org->id) +
                       ",\"user_id\":" + std::to_string(identity->id) + "}");
}

void SignalingRoutes::members(const HttpRequest& req, HttpResponse& resp) {
    auto [who, org] = member(req, resp);
    if (!org) {
        return;
    }
    std::vector<Member> members;
    if (!guarded(_context, resp, "cannot read the members",
                 [&] { members = _store->members(org->id); })) {
        return;
    }
    auto accounts = _context->services().find<Accounts>("accounts");
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartArray();
    for (const auto& m : members) {
        std::optional<Identity> identity = lookup(accounts, m.userId);
        w.StartObject();
        w.Key("user_id");
        w.Int64(m.userId);
        json::writeStringOrNull(w, "email", identity ? identity->email : "");
        json::writeStringOrNull(w, "username", identity ? identity->username : "");
        json::writeStringOrNull(w, "virtual_ip", m.address ? addressText(*m.address) : "");
        w.Key("joined_at");
        w.Double(m.joinedAt);
        w.Key("is_owner");
        w.Bool(m.userId == org->ownerId);
        w.EndObject();
    }
    w.EndArray();
    resp.json(200, text(buffer));
}

void SignalingRoutes::allocate(const HttpRequest& req, HttpResponse& resp) {
    auto who = caller(req, resp);
    if (!who) {
        return;
    }
    rapidjson::Document body;
    std::string problem;
    if (!json::parseBody(req, body, problem, json::BlankBody::EmptyObject)) {
        answerError(resp, 400, problem);
        return;
    }
    auto org = organization(req, resp, who->id, true);
    if (!org) {
        return;
    }
    std::optional<std::uint32_t> address;
    bool created = false;
    if (!guarded(_context, resp, "cannot store the address",
                 [&] { address = _store->allocate(*org, who->id, created); })) {
        return;
    }
    if (!address) {
        answerError(resp, 409, "No free IP address left in subnet " + org->subnet.text());
        return;
    }
    resp.json(200, "{\"virtual_ip\":" + json::quote(addressText(*address)) +
                       ",\"organization_id\":" + std::to_string(org->id) + ",\"user_id\":" +
                       std::to_string(who->id) + ",\"subnet\":" + json::quote(org->subnet.text()) +
                       ",\"created\":" + (created ? "true" : "false") + "}");
}

void SignalingRoutes::ips(const HttpRequest& req, HttpResponse& resp) {
    auto [who, org] = member(req, resp);
    if (!org) {
        return;
    }
    std::vector<Allocation> allocations;
    if (!guarded(_context, resp, "cannot read the addresses",
                 [&] { allocations = _store->allocations(org->id); })) {
        return;
    }
    auto accounts = _context->services().find<Accounts>("accounts");
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartArray();
    for (const auto& a : allocations) {
        std::optional<Identity> identity = lookup(accounts, a.userId);
        w.StartObject();
        json::writeString(w, "virtual_ip", addressText(a.address));
        w.Key("user_id");
        w.Int64(a.userId);
        json::writeStringOrNull(w, "email", identity ? identity->email : "");
        w.Key("allocated_at");
        w.Double(a.allocatedAt);
        w.EndObject();
    }
    w.EndArray();
    resp.json(200, text(buffer));
}

}  // namespace switchboard::signaling
