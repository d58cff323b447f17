// The /ws signaling protocol (see SignalingSocket.h).
#include "SignalingSocket.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <deque>
#include <mutex>

#include "switchboard/Accounts.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::signaling {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kPolicyViolation = 1008;
constexpr std::uint16_t kTryAgainLater = 1013;
constexpr std::size_t kMaxAddressLength = 255;

/// What a client sent for an optional field: absent or null, or the value.
const rapidjson::Value* present(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || it->value.IsNull()) {
        return nullptr;
    }
    return &it->value;
}

bool isPort(const rapidjson::Value& v) {
    return v.IsInt64() && v.GetInt64() >= 0 && v.GetInt64() <= 65535;
}

std::string errorWith(const std::string& message, const char* key, const std::string& value) {
    return "{\"error\":" + json::quote(message) + ",\"" + key + "\":" + json::quote(value) + "}";
}

}  // namespace

struct SignalingSocket::Session {
    enum class Phase { Authenticating, AwaitingRegister, Registering, Registered, Closed };
    std::mutex mutex;
    Phase phase = Phase::Authenticating;
    std::deque<std::string> pending;
    Identity identity;
    PeerPtr peer;
    double signalTokens = 0;
    Clock::time_point refilled = Clock::now();
};

SignalingSocket::SignalingSocket(std::shared_ptr<const SignalingConfig> config,
                                 PeerRegistry& registry, ClusterPresence& presence)
    : _config(std::move(config)), _registry(registry), _presence(presence) {}

void SignalingSocket::bind(HostContext* context, SignalingStore* store) {
    _context = context;
    _store = store;
    if (context != nullptr) {
        Metrics& m = context->metrics();
        _registrations = &m.counter("registrations_total", "Agents registered on /ws");
        _refused = &m.counter("registrations_refused_total",
                              "WebSocket connections refused (token, register or hook)");
        _signals = &m.counter("signals_relayed_total", "Signals relayed to a peer");
        _signalsRefused = &m.counter("signals_refused_total",
                                     "Signals not relayed (unknown peer, not connected, rate)");
    }
}

void SignalingSocket::sendError(const WebSocketPtr& conn, const std::string& message) {
    conn->sendText(json::errorBody(message));
}

void SignalingSocket::refuse(const WebSocketPtr& conn, const std::string& message) {
    sendError(conn, message);
    conn->close(kPolicyViolation, message);
}

void SignalingSocket::onOpen(const WebSocketPtr& conn, const HttpRequest& upgrade) {
    auto session = std::make_shared<Session>();
    session->signalTokens = _config->signalBurst;
    conn->setData(session);
    std::string token = upgrade.query("token");
    if (token.empty()) {
        token = upgrade.bearerToken();
    }
    if (token.empty()) {
        session->phase = Session::Phase::Closed;
        _refused->inc();
        refuse(conn, "No token provided");
        return;
    }
    if (!_context->work([this, conn, session, token] { authenticate(conn, session, token); })) {
        session->phase = Session::Phase::Closed;
        sendError(conn, "Server busy, try again");
        conn->close(kTryAgainLater, "server busy");
    }
}

void SignalingSocket::authenticate(const WebSocketPtr& conn,
                                   const std::shared_ptr<Session>& session,
                                   const std::string& token) {
    std::optional<Identity> identity;
    bool unavailable = false;
    if (auto accounts = _context->services().find<Accounts>("accounts")) {
        try {
            identity = accounts->verifyBearer(token);
        } catch (const std::exception& e) {
            _context->logger().warning("cannot check a /ws token: %s", std::string(e.what()));
            unavailable = true;
        }
    } else {
        unavailable = true;
    }
    std::lock_guard<std::mutex> lock(session->mutex);
    if (session->phase == Session::Phase::Closed) {
        return;
    }
    if (!identity) {
        session->phase = Session::Phase::Closed;
        _refused->inc();
        if (unavailable) {
            sendError(conn, "Authentication unavailable, try again");
            conn->close(kTryAgainLater, "authentication unavailable");
        } else {
            refuse(conn, "Invalid token");
        }
        return;
    }
    session->identity = *identity;
    session->phase = Session::Phase::AwaitingRegister;
    drainLocked(conn, *session);
}

void SignalingSocket::onMessage(const WebSocketPtr& conn, std::string_view message) {
    auto session = std::static_pointer_cast<Session>(conn->data());
    if (!session) {
        return;
    }
    std::lock_guard<std::mutex> lock(session->mutex);
    switch (session->phase) {
        case Session::Phase::Closed:
            return;
        case Session::Phase::Authenticating:
        case Session::Phase::Registering:
            if (session->pending.size() >= _config->maxPendingMessages) {
                session->phase = Session::Phase::Closed;
                refuse(conn, "Too many messages before the registration was answered");
                return;
            }
            session->pending.emplace_back(message);
            return;
        default:
            handleLocked(conn, *session, std::string(message));
    }
}

void SignalingSocket::drainLocked(const WebSocketPtr& conn, Session& session) {
    while (!session.pending.empty() && (session.phase == Session::Phase::AwaitingRegister ||
                                        session.phase == Session::Phase::Registered)) {
        std::string message = std::move(session.pending.front());
        session.pending.pop_front();
        handleLocked(conn, session, message);
    }
}

void SignalingSocket::handleLocked(const WebSocketPtr& conn, Session& session,
                                   const std::string& message) {
    if (session.phase == Session::Phase::AwaitingRegister) {
        startRegister(conn, session, message);
        return;
    }
    rapidjson::Document doc;
    std::string problem;
    if (!json::parseObject(message, doc, problem)) {
        sendError(conn, "Invalid JSON");
        return;
    }
    auto type = doc.FindMember("type");
    std::string kind =
        type != doc.MemberEnd() && type->value.IsString() ? type->value.GetString() : "";
    if (kind == "signal") {
        relayLocked(conn, session, doc);
    } else if (kind == "ping") {
        conn->sendText("{\"type\":\"pong\"}");
    } else if (kind == "register") {
        sendError(conn, "Already registered");
    } else if (kind.empty()) {
        sendError(conn, "Missing required fields: type");
    } else {
        conn->sendText(errorWith("Unknown message type", "type", kind));
    }
}

void SignalingSocket::startRegister(const WebSocketPtr& conn, Session& session,
                                    const std::string& message) {
    auto fail = [&](const std::string& why) {
        session.phase = Session::Phase::Closed;
        _refused->inc();
        refuse(conn, why);
    };
    rapidjson::Document doc;
    std::string problem;
    if (!json::parseObject(message, doc, problem)) {
        fail("Invalid JSON");
        return;
    }
    auto type = doc.FindMember("type");
    if (type == doc.MemberEnd() || !type->value.IsString() ||
        std::string_view(type->value.GetString()) != "register") {
        fail("First message must be register");
        return;
    }
    const rapidjson::Value* publicIp = present(doc, "public_ip");
    const rapidjson::Value* publicPort = present(doc, "public_port");
    if (publicIp == nullptr || publicPort == nullptr) {
        std::string missing;
        if (publicIp == nullptr) {
            missing = "public_ip";
        }
        if (publicPort == nullptr) {
            missing += missing.empty() ? "public_port" : ", public_port";
        }
        fail("Missing required fields: " + missing);
        return;
    }
    auto peer = std::make_shared<Peer>();
    if (!publicIp->IsString() || publicIp->GetStringLength() == 0 ||
        publicIp->GetStringLength() > kMaxAddressLength) {
        fail("Invalid field: public_ip must be a non-empty string of at most 255 bytes");
        return;
    }
    peer->publicIp.assign(publicIp->GetString(), publicIp->GetStringLength());
    if (!isPort(*publicPort)) {
        fail("Invalid field: public_port must be an integer from 0 to 65535");
        return;
    }
    peer->publicPort = publicPort->GetInt64();
    if (const rapidjson::Value* v = present(doc, "agent_id")) {
        if (!v->IsString() || v->GetStringLength() == 0 ||
            v->GetStringLength() > _config->maxAgentIdLength) {
            fail("Invalid field: agent_id must be a non-empty string of at most " +
                 std::to_string(_config->maxAgentIdLength) + " bytes");
            return;
        }
        peer->agentId.assign(v->GetString(), v->GetStringLength());
    }
    if (const rapidjson::Value* v = present(doc, "relay_ip")) {
        if (!v->IsString() || v->GetStringLength() > kMaxAddressLength) {
            fail("Invalid field: relay_ip must be a string of at most 255 bytes");
            return;
        }
        peer->relayIp = std::string(v->GetString(), v->GetStringLength());
    }
    if (const rapidjson::Value* v = present(doc, "relay_port")) {
        if (!isPort(*v)) {
            fail("Invalid field: relay_port must be an integer from 0 to 65535");
            return;
        }
        peer->relayPort = v->GetInt64();
    }
    std::int64_t wanted = 0;
    if (const rapidjson::Value* v = present(doc, "organization_id")) {
        if (!v->IsInt64() || v->GetInt64() <= 0) {
            fail("Invalid field: organization_id must be a positive integer");
            return;
        }
        wanted = v->GetInt64();
    }
    peer->remoteAddress = conn->peerHost();
    session.phase = Session::Phase::Registering;
    auto self = std::static_pointer_cast<Session>(conn->data());
    if (!_context->work(
            [this, conn, self, peer, wanted] { finishRegister(conn, self, peer, wanted); })) {
        session.phase = Session::Phase::Closed;
        sendError(conn, "Server busy, try again");
        conn->close(kTryAgainLater, "server busy");
    }
}

void SignalingSocket::finishRegister(const WebSocketPtr& conn,
                                     const std::shared_ptr<Session>& session, PeerPtr peer,
                                     std::int64_t wanted) {
    Identity identity;
    {
        std::lock_guard<std::mutex> lock(session->mutex);
        if (session->phase == Session::Phase::Closed) {
            return;
        }
        identity = session->identity;
    }
    auto fail = [&](const std::string& body, const std::string& why) {
        std::lock_guard<std::mutex> lock(session->mutex);
        if (session->phase == Session::Phase::Closed) {
            return;
        }
        session->phase = Session::Phase::Closed;
        _refused->inc();
        conn->sendText(body);
        conn->close(kPolicyViolation, why);
    };
    auto failWith = [&](const std::string& message) { fail(json::errorBody(message), message); };

    std::optional<Membership> chosen;
    try {
        chosen = _store->membershipFor(identity.id, wanted);
    } catch (const std::exception& e) {
        _context->logger().warning("cannot read the organizations of user %Ld: %s",
                                   static_cast<Poco::Int64>(identity.id), std::string(e.what()));
        failWith("Registration failed");
        return;
    }
    if (!chosen) {
        failWith(wanted > 0 ? "User not member of organization"
                            : "User not member of any organization");
        return;
    }
    if (!chosen->address) {
        failWith(wanted > 0 ? "No virtual IP allocated for user in organization"
                            : "No virtual IP allocated for user in any organization");
        return;
    }
    peer->organizationId = chosen->organization.id;
    peer->userId = identity.id;
    peer->email = identity.email;
    peer->virtualIp = addressText(*chosen->address);
    peer->connectionId = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    peer->peerId = peer->agentId.empty() ? peer->connectionId : peer->agentId;
    peer->registeredAt = epochSeconds();
    peer->finish();

    Lua& lua = _context->lua();
    if (lua.hasHook("on_peer_register")) {
        rapidjson::Document arg;
        arg.Parse(peer->json.data(), peer->json.size());
        auto& alloc = arg.GetAllocator();
        arg.AddMember("organization_id", peer->organizationId, alloc);
        arg.AddMember("connection_id", rapidjson::Value(peer->connectionId.c_str(), alloc), alloc);
        arg.AddMember("remote_address", rapidjson::Value(peer->remoteAddress.c_str(), alloc),
                      alloc);
        LuaResult result = lua.call("on_peer_register", {&arg});
        if (!result.ok) {
            _context->logger().warning("on_peer_register failed for %s: %s", peer->peerId,
                                       result.error);
            failWith("Registration failed");
            return;
        }
        const auto& values = result.values;
        if (values.Size() > 0 && values[0].IsFalse()) {
            std::string reason = "Registration refused";
            if (values.Size() > 1 && values[1].IsString() && values[1].GetStringLength() > 0) {
                reason.assign(values[1].GetString(), values[1].GetStringLength());
            }
            failWith(reason);
            return;
        }
    }

    std::lock_guard<std::mutex> lock(session->mutex);
    if (session->phase == Session::Phase::Closed) {
        return;  // the connection ended while we looked
    }
    try {
        _registry.add(peer, conn, [&](const std::string& existing) {
            return "{\"type\":\"register_agent_response\",\"status\":\"registered\","
                   "\"virtual_ip\":" +
                   json::quote(peer->virtualIp) +
                   ",\"connection_id\":" + json::quote(peer->connectionId) +
                   ",\"peer_id\":" + json::quote(peer->peerId) +
                   ",\"organization_id\":" + std::to_string(peer->organizationId) +
                   ",\"existing_peers\":" + existing + "}";
        });
    } catch (const PeerConflict& e) {
        session->phase = Session::Phase::Closed;
        _refused->inc();
        conn->sendText(errorWith("Registration failed", "detail", e.what()));
        conn->close(kPolicyViolation, "Registration failed");
        return;
    }
    session->peer = peer;
    session->phase = Session::Phase::Registered;
    _registrations->inc();
    drainLocked(conn, *session);
}

void SignalingSocket::relayLocked(const WebSocketPtr& conn, Session& session,
                                  const rapidjson::Value& doc) {
    const rapidjson::Value* to = present(doc, "to");
    const rapidjson::Value* data = present(doc, "data");
    if (to == nullptr || data == nullptr) {
        std::string missing = to == nullptr ? "to" : "";
        if (data == nullptr) {
            missing += missing.empty() ? "data" : ", data";
        }
        sendError(conn, "Missing required fields: " + missing);
        return;
    }
    if (!to->IsString()) {
        sendError(conn, "Invalid field: to must be a string");
        return;
    }
    if (!data->IsObject()) {
        sendError(conn, "Invalid field: data must be an object");
        return;
    }
    std::string target(to->GetString(), to->GetStringLength());
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - session.refilled).count();
    session.refilled = now;
    session.signalTokens =
        std::min(_config->signalBurst, session.signalTokens + elapsed * _config->signalRate);
    if (session.signalTokens < 1) {
        _signalsRefused->inc();
        conn->sendText(errorWith("Rate limited: too many signals, slow down", "to", target));
        return;
    }
    session.signalTokens -= 1;
    std::string node;
    std::string dataJson = json::stringify(*data);
    const Peer& from = *session.peer;
    switch (_registry.relay(from.organizationId, from.peerId, target, dataJson, &node)) {
        case PeerRegistry::RelayResult::Sent:
            _signals->inc();
            return;
        case PeerRegistry::RelayResult::Remote:
            // Its node relays it, or sends the error back (ClusterPresence).
            _presence.forward(node, from.organizationId, from.peerId, target, dataJson);
            _signals->inc();
            return;
        case PeerRegistry::RelayResult::UnknownPeer:
            _signalsRefused->inc();
            conn->sendText(errorWith("Unknown peer", "to", target));
            return;
        case PeerRegistry::RelayResult::NotConnected:
            _signalsRefused->inc();
            conn->sendText(errorWith("Peer not connected", "to", target));
            return;
    }
}

void SignalingSocket::onClose(const WebSocketPtr& conn) {
    auto session = std::static_pointer_cast<Session>(conn->data());
    if (!session) {
        return;
    }
    PeerPtr peer;
    {
        std::lock_guard<std::mutex> lock(session->mutex);
        session->phase = Session::Phase::Closed;
        session->pending.clear();
        peer = std::move(session->peer);
    }
    if (!peer) {
        return;
    }
    switch (conn->closeReason()) {
        case CloseReason::Lost:
            _registry.disconnected(peer, true, OfflineReason::Dropped);
            return;
        case CloseReason::Timeout:
            _registry.disconnected(peer, false, OfflineReason::Timeout);
            return;
        case CloseReason::Overflow:
        case CloseReason::ProtocolError:
            _registry.disconnected(peer, false, OfflineReason::Dropped);
            return;
        case CloseReason::PeerClosed:
        case CloseReason::Shutdown:
        case CloseReason::Server:
            _registry.disconnected(peer, false, OfflineReason::Closed);
            return;
    }
}

}  // namespace switchboard::signaling
