// One server-side WebSocket after its handshake, on its connection's event loop: frames decoded
// by WebSocketCodec from whatever bytes arrive, messages handed to the plugin's handler, sends
// from any thread encoded into the connection's bounded queue. A peer that stops reading is
// closed once the queue passes websocket.max_outbound or takes nothing for io_timeout; one that
// leaves a frame half-sent is closed after io_timeout; neither stalls anyone else.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "config/ListenerOptions.h"
#include "net/Reactor.h"
#include "net/WebSocketCodec.h"
#include "switchboard/WebSocket.h"

namespace switchboard {

class WebSocketSession : public Protocol,
                         public WebSocketConnection,
                         public std::enable_shared_from_this<WebSocketSession> {
public:
    WebSocketSession(const std::shared_ptr<Connection>& conn,
                     std::shared_ptr<WebSocketHandler> handler, const WebSocketLimits& limits);

    /// Tells the plugin about the connection (after the 101 was queued).
    void start(Connection& conn, const HttpRequest& upgrade);

    // WebSocketConnection (plugin side, any thread)
    std::uint64_t id() const override { return _id; }
    std::string peerHost() const override { return _peerHost; }
    bool sendText(std::string_view text) override;
    void close(std::uint16_t code, const std::string& reason) override;
    bool isOpen() const override { return _open.load(); }
    void setData(std::shared_ptr<void> data) override;
    std::shared_ptr<void> data() const override;
    CloseReason closeReason() const override { return _reason.load(); }

    // Protocol (loop thread)
    void onOpen(Connection&) override {}
    void onBytes(Connection& conn, const char* data, std::size_t size) override;
    void onEof(Connection& conn) override;
    void onTick(Connection& conn, SteadyTime now) override;
    void onClosed(Connection& conn, CloseReason reason) override;

private:
    void closeWith(Connection& conn, std::uint16_t code, const std::string& reason,
                   CloseReason why);

    std::weak_ptr<Connection> _conn;
    std::shared_ptr<WebSocketHandler> _handler;
    const WebSocketLimits _limits;
    const std::string _peerHost;
    const std::uint64_t _id;
    std::mutex _codecMutex;  ///< the codec is used by the loop (reads) and by senders
    WebSocketCodec _codec;
    std::atomic<bool> _open{true};
    std::atomic<CloseReason> _reason{CloseReason::PeerClosed};
    mutable std::mutex _dataMutex;
    std::shared_ptr<void> _data;
    SteadyTime _lastFrame;     ///< loop thread
    SteadyTime _lastPing;      ///< loop thread
    SteadyTime _partialSince;  ///< loop thread
    bool _partial = false;     ///< loop thread
};

}  // namespace switchboard
