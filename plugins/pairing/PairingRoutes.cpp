// TunneLink endpoints (see PairingRoutes.h). Wire format and error strings follow seed 000 and
// DESIGN.md §5.
#include "PairingRoutes.h"

#include <Poco/Logger.h>

#include "PairingEvents.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

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

}  // namespace

PairingRoutes::PairingRoutes(std::shared_ptr<const PairingConfig> config, ServerRegistry& registry)
    : _config(std::move(config)),
      _registry(registry),
      _lookupLimiter(_config->failedLookupsPerAddress, _config->failedLookupsTotal,
                     _config->rateWindow) {}

void PairingRoutes::bind(HostContext* context, PairingStore* store) {
    if (context != nullptr) {
        Metrics& m = context->metrics();
        _registrations = &m.counter("registrations_total", "Successful server registrations");
        _heartbeats = &m.counter("heartbeats_total", "Heartbeats recorded");
        _lookupsOk = &m.counter("lookups_total", "Pairing-code look-ups", "result=\"found\"");
        _lookupsFailed =
            &m.counter("lookups_total", "Pairing-code look-ups", "result=\"not_found\"");
        _rateLimited = &m.counter("rate_limited_total", "Look-ups refused with 429");
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
    return {{"POST", "/register_server", handler(&PairingRoutes::registerServer)},
            {"POST", "/server_status", handler(&PairingRoutes::serverStatus)},
            // In memory only (registry and limiter): answered on the event loop.
            {"POST", "/get_server_details", handler(&PairingRoutes::serverDetails), true}};
}

std::vector<Route> PairingRoutes::adminRoutes() {
    return {{"GET", "/servers",
             [this](const HttpRequest& req, HttpResponse& resp) { listServers(req, resp); }}};
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
    std::lock_guard<std::mutex> lock(_registerMutex);
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
    resp.json(200, "{\"pairing_code\":" + std::to_string(s.code) + "}");
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
    if (std::int64_t wait = _lookupLimiter.retryAfter(peer); wait > 0) {
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
        _lookupsFailed->inc();
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

void PairingRoutes::listServers(const HttpRequest&, HttpResponse& resp) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("servers");
    w.StartArray();
    for (const auto& s : _registry.all()) {
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
    w.EndArray();
    w.EndObject();
    resp.json(200, buffer.GetString());
}

}  // namespace switchboard::pairing
