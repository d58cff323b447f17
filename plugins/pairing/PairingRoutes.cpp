// TunneLink endpoints (see PairingRoutes.h). Wire format and error strings follow seed 000 and
// DESIGN.md §5.
#include "PairingRoutes.h"

#include <Poco/Logger.h>

#include <algorithm>

#include "PairingEvents.h"
#include "ServerSecret.h"
#include "switchboard/Audit.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"
#include "switchboard/Paging.h"

namespace switchboard::pairing {

namespace {

using json::Writer;
using json::writeString;

std::string statusBody(bool online, double lastHeartbeat) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("online");
    w.Bool(online);
    w.Key("last_heartbeat");
    w.Double(lastHeartbeat);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

/// pairing_code as the seed sends it (an integer); a string of digits is accepted too.
bool readCode(const rapidjson::Value& body, std::int64_t& code, std::string& error) {
    auto it = body.FindMember("pairing_code");
    if (it != body.MemberEnd() && it->value.IsString()) {
        std::string text(it->value.GetString(), it->value.GetStringLength());
        if (text.empty() || text.size() > 9 ||
            text.find_first_not_of("0123456789") != std::string::npos) {
            error = "pairing_code must be an integer";
            return false;
        }
        code = std::stoll(text);
        return true;
    }
    return json::requireInt(body, "pairing_code", code, error);
}

/// A server as it registers and as /get_server_details shows it.
Schema serverSchema() {
    return Schema::object({{"ssh_pubkey", Schema::string("an OpenSSH public key line")},
                           {"ssh_user", Schema::string()},
                           {"ssh_tunnel", Schema::integer("port 1-65535")},
                           {"listen_pubkey_tunnel", Schema::integer("port 1-65535")}});
}

/// One entry of the admin server list.
void writeServer(Writer& w, const ServerInfo& s) {
    w.StartObject();
    writeString(w, "ssh_pubkey", s.sshPubkey);
    writeString(w, "ssh_user", s.sshUser);
    w.Key("ssh_tunnel");
    w.Int64(s.sshTunnel);
    w.Key("listen_pubkey_tunnel");
    w.Int64(s.listenPubkeyTunnel);
    w.Key("online");
    w.Bool(s.online);
    w.Key("pairing_code");
    if (s.online) {
        w.Int(s.code);
    } else {
        w.Null();
    }
    w.Key("last_heartbeat");
    w.Double(s.lastHeartbeat);
    w.Key("registered_at");
    w.Double(s.registeredAt);
    w.EndObject();
}

}  // namespace

PairingRoutes::PairingRoutes(std::shared_ptr<const PairingConfig> config, ServerRegistry& registry)
    : _config(std::move(config)),
      _registry(registry),
      _lookupLimiter(_config->failedLookupsPerAddress, _config->failedLookupsTotal,
                     _config->rateWindow, _config->failedLookupsUnderAttack),
      _networkLimiter(_config->failedLookupsPerNetwork, _config->failedLookupsTotal,
                      _config->rateWindow, _config->failedLookupsPerNetworkUnderAttack),
      _registrationLimiter(_config->registrationsPerAddress, 0, _config->registrationWindow),
      _registrationNetworkLimiter(_config->registrationsPerNetwork, 0,
                                  _config->registrationWindow) {}

void PairingRoutes::bind(HostContext* context, PairingStore* store) {
    if (context != nullptr) {
        Metrics& m = context->metrics();
        _registrations = &m.counter("registrations_total", "Successful server registrations");
        _heartbeats = &m.counter("heartbeats_total", "Heartbeats recorded");
        _lookupsOk = &m.counter("lookups_total", "Pairing-code look-ups", "result=\"found\"");
        _lookupsFailed =
            &m.counter("lookups_total", "Pairing-code look-ups", "result=\"not_found\"");
        _rateLimited =
            &m.counter("rate_limited_total", "Look-ups and registrations refused with 429");
    }
    _store = store;
    _context = context;
}

std::vector<Route> PairingRoutes::routes() {
    auto handler = [this](void (PairingRoutes::*method)(const HttpRequest&, HttpResponse&)) {
        return [this, method](const HttpRequest& req, HttpResponse& resp) {
            (this->*method)(req, resp);
        };
    };
    Schema status =
        Schema::object({{"online", Schema::boolean()}, {"last_heartbeat", Schema::time()}});
    return {{"POST", "/register_server", handler(&PairingRoutes::registerServer), false,
             RouteDoc("Registers (or re-registers) a server and issues a fresh pairing code")
                 .body(serverSchema())
                 .answer(200, "registered",
                         Schema::object(
                             {{"pairing_code", Schema::integer("1000-9999")},
                              optional("server_secret", Schema::string("32 hex digits; only with "
                                                                       "require_server_secret"))}))
                 .error(400, "the body or a field is invalid (the message names it)")
                 .error(401,
                        "server_secret required, or Invalid server secret (require_server_secret: "
                        "re-registering an online server)")
                 .error(403, "the on_server_register hook refused it")
                 .error(429, "too many registrations; retry later (Retry-After)")
                 .error(500, "registration hook failed")
                 .error(503,
                        "cannot store the registration (Retry-After), or no pairing codes "
                        "available")},
            {"POST", "/server_status", handler(&PairingRoutes::serverStatus), false,
             RouteDoc("A server's heartbeat, or its status")
                 .body(Schema::object(
                     {{"ssh_pubkey", Schema::string()},
                      {"action", Schema::string().oneOf({"heartbeat", "get_server_status"})}}))
                 .answer(200, "the heartbeat recorded, or the status", status)
                 .error(400, "the body or a field is invalid (the message names it)")
                 .error(401,
                        "server_secret required, or Invalid server secret (require_server_secret: "
                        "a heartbeat)")
                 .error(404, "Server not registered")
                 .error(409, "Server is offline. Heartbeat not updated.")},
            // In memory only (registry and limiter): answered on the event loop.
            {"POST", "/get_server_details", handler(&PairingRoutes::serverDetails), true,
             RouteDoc("The server holding a pairing code")
                 .body(Schema::object(
                     {{"pairing_code", Schema::raw("{\"type\":[\"integer\",\"string\"],"
                                                   "\"description\":\"an integer, or "
                                                   "a string of 1-9 digits\"}")}}))
                 .answer(200, "the server", serverSchema())
                 .error(400, "the body or pairing_code is invalid")
                 .error(404, "Invalid pairing code")
                 .error(429, "too many failed pairing-code look-ups; retry later (Retry-After)")}};
}

std::vector<Route> PairingRoutes::adminRoutes() {
    Schema server = Schema::object({{"ssh_pubkey", Schema::string()},
                                    {"ssh_user", Schema::string()},
                                    {"ssh_tunnel", Schema::integer()},
                                    {"listen_pubkey_tunnel", Schema::integer()},
                                    {"online", Schema::boolean()},
                                    {"pairing_code", Schema::integer().orNull()},
                                    {"last_heartbeat", Schema::time()},
                                    {"registered_at", Schema::time()}});
    return {{"GET", "/servers",
             [this](const HttpRequest& req, HttpResponse& resp) { listServers(req, resp); }, false,
             RouteDoc("Every server ever registered, oldest registration first, a page at a time")
                 .paged(server, "the SSH user, the SSH key or the pairing code")}};
}

std::vector<AdminView> PairingRoutes::adminViews() {
    return {{"servers",
             "Servers",
             "/servers",
             {{"pairing_code", "Code"},
              {"ssh_user", "SSH user"},
              {"online", "Online", "bool"},
              {"last_heartbeat", "Last heartbeat", "time"},
              {"registered_at", "Registered", "time"},
              {"ssh_tunnel", "SSH tunnel"},
              {"listen_pubkey_tunnel", "Key tunnel"},
              {"ssh_pubkey", "SSH key"}},
             {},
             false,
             true}};
}

bool PairingRoutes::checkField(const std::string& name, const std::string& value,
                               HttpResponse& resp) const {
    if (value.empty()) {
        resp.error(400, name + " must not be empty");
        return false;
    }
    // The store reads text back only up to a NUL: "key\0x" would load as "key" after a restart
    // and shadow that server. No SSH key or user name contains one.
    if (value.find('\0') != std::string::npos) {
        resp.error(400, name + " must not contain NUL characters");
        return false;
    }
    if (value.size() > _config->maxFieldLength) {
        resp.error(400, name + " is too long (limit " + std::to_string(_config->maxFieldLength) +
                            " bytes)");
        return false;
    }
    return true;
}

bool PairingRoutes::secretAccepted(const ServerInfo& server, const rapidjson::Value& body,
                                   HttpResponse& resp) const {
    auto it = body.FindMember("server_secret");
    if (it == body.MemberEnd() || it->value.IsNull()) {
        resp.error(401, "server_secret required");
        return false;
    }
    if (!it->value.IsString()) {
        resp.error(400, "server_secret must be a string");
        return false;
    }
    // 128 random bits: guessing is hopeless, so wrong secrets are not rate-limited; each costs
    // one SHA-256.
    std::string secret(it->value.GetString(), it->value.GetStringLength());
    if (!ServerSecret::matches(server.secretHash, server.sshPubkey, secret)) {
        resp.error(401, "Invalid server secret");
        return false;
    }
    return true;
}

bool PairingRoutes::allowedByHook(const ServerInfo& s, const std::string& peer,
                                  HttpResponse& resp) {
    Lua& lua = _context->lua();
    if (!lua.hasHook("on_server_register")) {
        return true;
    }
    rapidjson::Document server(rapidjson::kObjectType);
    auto& a = server.GetAllocator();
    server.AddMember("ssh_pubkey", rapidjson::Value(s.sshPubkey.c_str(), a), a);
    server.AddMember("ssh_user", rapidjson::Value(s.sshUser.c_str(), a), a);
    server.AddMember("ssh_tunnel", s.sshTunnel, a);
    server.AddMember("listen_pubkey_tunnel", s.listenPubkeyTunnel, a);
    server.AddMember("peer", rapidjson::Value(peer.c_str(), a), a);
    LuaResult result = lua.call("on_server_register", {&server});
    if (!result.ok) {
        _context->logger().error("on_server_register failed: %s", result.error);
        resp.error(500, "registration hook failed");
        return false;
    }
    const auto& values = result.values;
    if (values.Size() > 0 && values[0].IsBool() && !values[0].GetBool()) {
        std::string reason = "registration rejected";
        if (values.Size() > 1 && values[1].IsString()) {
            reason = values[1].GetString();
        }
        resp.error(403, reason);
        return false;
    }
    return true;
}

void PairingRoutes::registerServer(const HttpRequest& req, HttpResponse& resp) {
    rapidjson::Document body;
    std::string error;
    ServerInfo s;
    if (!json::parseBody(req, body, error) ||
        !json::requireString(body, "ssh_pubkey", s.sshPubkey, error) ||
        !json::requireString(body, "ssh_user", s.sshUser, error) ||
        !json::requireInt(body, "ssh_tunnel", s.sshTunnel, error) ||
        !json::requireInt(body, "listen_pubkey_tunnel", s.listenPubkeyTunnel, error)) {
        resp.error(400, error);
        return;
    }
    if (!checkField("ssh_pubkey", s.sshPubkey, resp) || !checkField("ssh_user", s.sshUser, resp)) {
        return;
    }
    for (auto [name, port] : {std::pair{"ssh_tunnel", s.sshTunnel},
                              std::pair{"listen_pubkey_tunnel", s.listenPubkeyTunnel}}) {
        if (port < 1 || port > 65535) {
            resp.error(400, std::string(name) + " must be a port number (1-65535)");
            return;
        }
    }
    if (!allowedByHook(s, req.clientAddress(), resp)) {
        return;
    }
    // New keys take codes from a space of 9,000: counted per address and network before one is
    // reserved, so one client cannot take them all (re-registering a known key takes none).
    std::string peer = req.clientAddress();
    std::string network = addressNetwork(peer);
    std::optional<ServerInfo> existing = _registry.byKey(s.sshPubkey);
    if (!existing && adoptFromStore(s.sshPubkey)) {  // registered through another node
        existing = _registry.byKey(s.sshPubkey);
    }
    // Strict mode: an online server that holds a secret is re-registered only with it (one that
    // went offline, or predates secrets, may be re-registered without: it gets a new one).
    if (_config->requireServerSecret && existing && existing->online &&
        !existing->secretHash.empty() && !secretAccepted(*existing, body, resp)) {
        return;
    }
    bool known = existing.has_value();
    if (!known) {
        std::int64_t wait = _registrationLimiter.attempt(peer);
        if (wait == 0) {
            wait = _registrationNetworkLimiter.attempt(network);
            if (wait > 0) {
                _registrationLimiter.forgive(peer);
            }
        }
        if (wait > 0) {
            _rateLimited->inc();
            resp.setHeader("Retry-After", std::to_string(wait));
            resp.error(429, "too many registrations; retry later");
            return;
        }
    }
    std::lock_guard<std::mutex> lock(_registerMutex);
    // The secret exists only in the strict mode: by default the reply is the seed's exactly.
    std::string secret;
    if (_config->requireServerSecret) {
        secret = ServerSecret::generate();
        s.secretHash = ServerSecret::hash(s.sshPubkey, secret);
    }
    // A code this node thinks free may be held by another node sharing the store: the
    // store's unique index refuses it and another code is tried.
    constexpr int kAttempts = 8;
    for (int attempt = 1;; ++attempt) {
        std::optional<int> code = _registry.reserveCode();
        if (!code) {
            resp.error(503, "no pairing codes available");
            return;
        }
        s.code = *code;
        s.online = true;
        s.lastHeartbeat = epochSeconds();
        s.registeredAt = s.lastHeartbeat;
        try {
            _store->save(s);  // durable before the client hears of its code
            break;
        } catch (const std::exception& e) {
            _registry.releaseReservation(*code);
            bool taken = false;
            try {
                taken = attempt < kAttempts && _store->codeTaken(*code, s.sshPubkey);
            } catch (const std::exception&) {
            }
            if (taken) {
                continue;
            }
            _context->logger().error("cannot store registration: %s", std::string(e.what()));
            resp.storeUnavailable("cannot store the registration");
            return;
        }
    }
    _registry.commit(s);
    _registrations->inc();
    _context->bus().publish("server.online", PairingEvents::online(s));
    _context->logger().information("server registered (user %s, code %d)", s.sshUser, s.code);
    // The secret is shown only here (the plugin keeps its hash).
    std::string reply = "{\"pairing_code\":" + std::to_string(s.code);
    if (!secret.empty()) {
        reply += ",\"server_secret\":\"" + secret + "\"";
    }
    resp.json(200, reply + "}");
}

double PairingRoutes::cutoff() const {
    return epochSeconds() - static_cast<double>(_config->offlineAfter.count()) / 1000.0;
}

bool PairingRoutes::adoptFromStore(const std::string& sshPubkey) {
    try {
        std::optional<ServerInfo> s = _store->byKey(sshPubkey);
        if (!s || !s->online || s->code == 0 || s->lastHeartbeat < cutoff()) {
            return false;  // offline for every node (or about to be taken offline)
        }
        _registry.commit(*s);
        return true;
    } catch (const std::exception& e) {
        _context->logger().warning("cannot look a server up in the store: %s",
                                   std::string(e.what()));
        return false;
    }
}

void PairingRoutes::serverStatus(const HttpRequest& req, HttpResponse& resp) {
    rapidjson::Document body;
    std::string error;
    std::string key;
    std::string action;
    if (!json::parseBody(req, body, error) ||
        !json::requireString(body, "ssh_pubkey", key, error) ||
        !json::requireString(body, "action", action, error)) {
        resp.error(400, error);
        return;
    }
    if (action == "heartbeat") {
        if (_config->requireServerSecret) {
            std::optional<ServerInfo> s = _registry.byKey(key);
            if (!s && adoptFromStore(key)) {  // registered through another node
                s = _registry.byKey(key);
            }
            if (!s) {
                resp.error(404, "Server not registered");
                return;
            }
            if (!secretAccepted(*s, body, resp)) {
                return;
            }
        }
        double now = epochSeconds();
        ServerRegistry::Heartbeat result = _registry.heartbeat(key, now);
        if (result != ServerRegistry::Heartbeat::Updated && adoptFromStore(key)) {
            result = _registry.heartbeat(key, now);
        }
        switch (result) {
            case ServerRegistry::Heartbeat::Unknown:
                resp.error(404, "Server not registered");
                return;
            case ServerRegistry::Heartbeat::Offline:
                resp.error(409, "Server is offline. Heartbeat not updated.");
                return;
            case ServerRegistry::Heartbeat::Updated:
                _store->heartbeat(key, now);
                _heartbeats->inc();
                resp.json(200, statusBody(true, now));
                return;
        }
    }
    if (action == "get_server_status") {
        std::optional<ServerInfo> s = _registry.byKey(key);
        if (!s || !s->online) {
            // Registered, or kept online, through another node sharing the store?
            try {
                if (std::optional<ServerInfo> stored = _store->byKey(key)) {
                    s = stored;
                }
            } catch (const std::exception&) {
            }
        }
        if (!s) {
            resp.error(404, "Server not registered");
            return;
        }
        resp.json(200, statusBody(s->online, s->lastHeartbeat));
        return;
    }
    resp.error(400, "action must be \"heartbeat\" or \"get_server_status\"");
}

void PairingRoutes::serverDetails(const HttpRequest& req, HttpResponse& resp) {
    std::string peer = req.clientAddress();
    std::string network = addressNetwork(peer);
    std::int64_t wait =
        std::max(_lookupLimiter.retryAfter(peer), _networkLimiter.retryAfter(network));
    if (wait > 0) {
        _rateLimited->inc();
        resp.setHeader("Retry-After", std::to_string(wait));
        resp.error(429, "too many failed pairing-code look-ups; retry later");
        return;
    }
    rapidjson::Document body;
    std::string error;
    std::int64_t code = 0;
    if (!json::parseBody(req, body, error) || !readCode(body, code, error)) {
        resp.error(400, error);
        return;
    }
    std::optional<ServerInfo> s;
    if (code >= ServerRegistry::kMinCode && code <= ServerRegistry::kMaxCode) {
        s = _registry.byCode(static_cast<int>(code));
        if (!s) {
            // Registered on another node sharing the store?
            try {
                s = _store->byCode(static_cast<int>(code), cutoff());
                if (s) {
                    _registry.commit(*s);
                }
            } catch (const std::exception& e) {
                _context->logger().warning("cannot look a code up in the store: %s",
                                           std::string(e.what()));
            }
        }
    }
    if (!s) {
        _lookupLimiter.fail(peer);
        _networkLimiter.fail(network);
        _lookupsFailed->inc();
        // A wait now means this failure started the refusal: recorded once per refusal.
        if (std::int64_t wait = _lookupLimiter.retryAfter(peer)) {
            recordAudit(*_context, "anonymous", peer, "pairing.code_limited",
                        "{\"retry_after\":" + std::to_string(wait) + "}");
        }
        resp.error(404, "Invalid pairing code");
        return;
    }
    _lookupsOk->inc();
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    writeString(w, "ssh_pubkey", s->sshPubkey);
    writeString(w, "ssh_user", s->sshUser);
    w.Key("ssh_tunnel");
    w.Int64(s->sshTunnel);
    w.Key("listen_pubkey_tunnel");
    w.Int64(s->listenPubkeyTunnel);
    w.EndObject();
    resp.json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

void PairingRoutes::listServers(const HttpRequest& req, HttpResponse& resp) {
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    std::vector<ServerInfo> servers = _registry.all();
    // Oldest registration first, so pages stay put while servers come and go online.
    std::sort(servers.begin(), servers.end(), [](const ServerInfo& a, const ServerInfo& b) {
        return a.registeredAt != b.registeredAt ? a.registeredAt < b.registeredAt
                                                : a.sshPubkey < b.sshPubkey;
    });
    resp.json(200, page.body([&](Writer& w) {
        std::uint64_t total = 0;
        for (const auto& s : servers) {
            if (!page.matches(s.sshUser) && !page.matches(s.sshPubkey) &&
                !(s.online && page.matches(std::to_string(s.code)))) {
                continue;
            }
            if (page.onPage(total++)) {
                writeServer(w, s);
            }
        }
        return total;
    }));
}

}  // namespace switchboard::pairing
