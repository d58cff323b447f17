// WebSocket routes. After the handshake the host serves each socket from an event loop, so an
// idle connection costs memory, not a thread. Callbacks run on an event-loop thread: keep them
// short and hand slow work elsewhere.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/CloseReason.h"
#include "switchboard/Http.h"

namespace switchboard {

class WebSocketConnection {
public:
    virtual ~WebSocketConnection() = default;
    /// Unique for the life of the process.
    virtual std::uint64_t id() const = 0;
    /// IP address of the TCP peer (no port).
    virtual std::string peerHost() const = 0;
    /// Queues a text frame. Thread-safe, never blocks. Returns false if the connection is
    /// closed; past the listener's websocket.max_outbound (a peer that does not read) the
    /// connection is closed (CloseReason::Overflow).
    virtual bool sendText(std::string_view text) = 0;
    /// Sends a close frame and closes the socket; onClose follows. Thread-safe, idempotent.
    virtual void close(std::uint16_t code = 1000, const std::string& reason = {}) = 0;
    /// False once either side closed the connection.
    virtual bool isOpen() const = 0;
    /// Per-connection plugin state (e.g. the registered agent). Thread-safe.
    virtual void setData(std::shared_ptr<void> data) = 0;
    /// The state set last, or nullptr.
    virtual std::shared_ptr<void> data() const = 0;
    /// Why the connection ended (meaningful in and after onClose).
    virtual CloseReason closeReason() const = 0;
};

using WebSocketPtr = std::shared_ptr<WebSocketConnection>;

/// A plugin's WebSocket endpoint. The callbacks of one connection never overlap. Exceptions
/// are logged on the plugin's logger; the connection stays open.
class WebSocketHandler {
public:
    virtual ~WebSocketHandler() = default;
    /// Called once the 101 has been sent, with the upgrade request.
    virtual void onOpen(const WebSocketPtr& conn, const HttpRequest& upgrade) = 0;
    /// A complete text (or binary) message.
    virtual void onMessage(const WebSocketPtr& conn, std::string_view message) = 0;
    /// The connection is gone (either side closed it, it timed out, or the plugin stops).
    virtual void onClose(const WebSocketPtr& conn) = 0;
};

/// A WebSocket endpoint as a plugin declares it (Plugin::webSocketRoutes()).
struct WebSocketRoute {
    std::string path;                           ///< e.g. "/ws"; GET upgrades to a WebSocket
    std::shared_ptr<WebSocketHandler> handler;  ///< shared by every connection of the path
    /// The upgrade request as OpenAPI shows it (answer 101 and the refusals).
    RouteDoc doc = {};
};

}  // namespace switchboard
