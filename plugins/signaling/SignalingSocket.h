// The /ws endpoint: the seed's signaling protocol on one WebSocket per agent. The handshake is
// accepted, the token checked on the work pool (it reads the store), then the first message
// must be `register`; after that `signal` relays to a peer of the same organization and `ping`
// answers `pong`. Errors are {"error": "..."} with the seed's strings; authentication and
// registration errors then close the connection (1008).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ClusterPresence.h"
#include "PeerRegistry.h"
#include "SignalingConfig.h"
#include "SignalingStore.h"
#include "switchboard/HostContext.h"
#include "switchboard/Metrics.h"
#include "switchboard/WebSocket.h"

namespace switchboard::signaling {

class SignalingSocket : public WebSocketHandler {
public:
    SignalingSocket(std::shared_ptr<const SignalingConfig> config, PeerRegistry& registry,
                    ClusterPresence& presence);
    /// Set in start() before any connection, cleared in stop() after the last one.
    void bind(HostContext* context, SignalingStore* store);

    void onOpen(const WebSocketPtr& conn, const HttpRequest& upgrade) override;
    void onMessage(const WebSocketPtr& conn, std::string_view message) override;
    void onClose(const WebSocketPtr& conn) override;

private:
    struct Session;
    /// Checks the token (work pool), then handles what arrived meanwhile.
    void authenticate(const WebSocketPtr& conn, const std::shared_ptr<Session>& session,
                      const std::string& token);
    /// One message; the session's mutex held.
    void handleLocked(const WebSocketPtr& conn, Session& session, const std::string& message);
    /// Validates a register message and hands the registration to the work pool.
    void startRegister(const WebSocketPtr& conn, Session& session, const std::string& message);
    /// Work pool: finds the user's organization and address, asks the hook, adds the peer.
    void finishRegister(const WebSocketPtr& conn, const std::shared_ptr<Session>& session,
                        PeerPtr peer, std::int64_t wantedOrganization);
    /// A `signal` message (parsed); the session's mutex held.
    void relayLocked(const WebSocketPtr& conn, Session& session, const rapidjson::Value& doc);
    /// Handles the messages that queued while the token or the registration was checked.
    void drainLocked(const WebSocketPtr& conn, Session& session);
    /// Sends {"error": message} and closes with 1008.
    static void refuse(const WebSocketPtr& conn, const std::string& message);
    static void sendError(const WebSocketPtr& conn, const std::string& message);

    const std::shared_ptr<const SignalingConfig> _config;
    PeerRegistry& _registry;
    ClusterPresence& _presence;
    HostContext* _context = nullptr;
    SignalingStore* _store = nullptr;
    Counter* _registrations = nullptr;
    Counter* _refused = nullptr;
    Counter* _signals = nullptr;
    Counter* _signalsRefused = nullptr;
};

}  // namespace switchboard::signaling
