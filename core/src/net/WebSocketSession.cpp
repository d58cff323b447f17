// WebSocket sessions on the event loops (see WebSocketSession.h).
#include "net/WebSocketSession.h"

#include <Poco/Logger.h>

#include <vector>

namespace switchboard {

WebSocketSession::WebSocketSession(const std::shared_ptr<Connection>& conn,
                                   std::shared_ptr<WebSocketHandler> handler,
                                   const WebSocketLimits& limits)
    : _conn(conn),
      _handler(std::move(handler)),
      _limits(limits),
      _peerHost(conn->peerHost()),
      _id(conn->id()),
      _codec(limits.maxMessage),
      _lastFrame(std::chrono::steady_clock::now()),
      _lastPing(_lastFrame) {}

void WebSocketSession::start(Connection& conn, const HttpRequest& upgrade) {
    try {
        _handler->onOpen(shared_from_this(), upgrade);
    } catch (const std::exception& e) {
        conn.ownerLogger("switchboard.websocket")
            .error("websocket %Lu (%s): open handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
        closeWith(conn, 1011, "internal error", CloseReason::Server);
    }
}

void WebSocketSession::setData(std::shared_ptr<void> data) {
    std::lock_guard<std::mutex> lock(_dataMutex);
    _data = std::move(data);
}

std::shared_ptr<void> WebSocketSession::data() const {
    std::lock_guard<std::mutex> lock(_dataMutex);
    return _data;
}

bool WebSocketSession::sendText(std::string_view text) {
    auto conn = _conn.lock();
    if (!conn || !_open.load()) {
        return false;
    }
    std::lock_guard<std::mutex> lock(_codecMutex);
    if (!_codec.sendText(text)) {
        return false;
    }
    return conn->send(_codec.takeOutput());
}

void WebSocketSession::close(std::uint16_t code, const std::string& reason) {
    if (auto conn = _conn.lock()) {
        closeWith(*conn, code, reason, CloseReason::Server);
    }
}

void WebSocketSession::closeWith(Connection& conn, std::uint16_t code, const std::string& reason,
                                 CloseReason why) {
    if (!_open.exchange(false)) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(_codecMutex);
        _codec.close(code, reason);
        conn.send(_codec.takeOutput());
    }
    conn.closeAfterFlush(why);
}

void WebSocketSession::onBytes(Connection& conn, const char* data, std::size_t size) {
    thread_local std::vector<WebSocketCodec::Message> messages;
    messages.clear();
    bool more = false;
    bool partial = false;
    std::uint16_t ourCode = 0;
    {
        std::lock_guard<std::mutex> lock(_codecMutex);
        more = _codec.receive(std::string_view(data, size), messages);
        partial = _codec.midFrame();
        ourCode = _codec.closeCode();
        if (_codec.pendingOutput() > 0) {
            conn.send(_codec.takeOutput());  // pongs and the close echo
        }
    }
    auto now = std::chrono::steady_clock::now();
    _lastFrame = now;
    if (partial && !_partial) {
        _partialSince = now;
    }
    _partial = partial;
    if (!messages.empty()) {
        auto self = shared_from_this();
        for (auto& message : messages) {
            if (!_open.load()) {
                break;
            }
            try {
                _handler->onMessage(self, message.data);
            } catch (const std::exception& e) {
                conn.ownerLogger("switchboard.websocket")
                    .error("websocket %Lu (%s): message handler failed: %s",
                           static_cast<Poco::UInt64>(_id), _peerHost, std::string(e.what()));
            }
        }
        messages.clear();
    }
    if (!more && _open.exchange(false)) {
        // A close from the peer, or a protocol error we answered with 1002/1007/1009.
        conn.closeAfterFlush(ourCode != 0 ? CloseReason::ProtocolError : CloseReason::PeerClosed);
    }
}

void WebSocketSession::onEof(Connection& conn) {
    _open = false;
    conn.abort(CloseReason::Lost);  // no close frame came first
}

void WebSocketSession::onTick(Connection& conn, SteadyTime now) {
    if (!_open.load()) {
        return;
    }
    if (_partial && now - _partialSince > _limits.ioTimeout) {
        _open = false;
        conn.abort(CloseReason::Timeout);  // half a frame, then nothing
        return;
    }
    if (_limits.idleTimeout.count() > 0 && now - _lastFrame > _limits.idleTimeout) {
        closeWith(conn, 1001, "idle timeout", CloseReason::Timeout);
        return;
    }
    if (_limits.pingInterval.count() > 0 && now - _lastFrame >= _limits.pingInterval &&
        now - _lastPing >= _limits.pingInterval) {
        // A quiet peer is asked for a pong; one that answers nothing meets idle_timeout.
        _lastPing = now;
        std::lock_guard<std::mutex> lock(_codecMutex);
        if (_codec.ping()) {
            conn.send(_codec.takeOutput());
        }
    }
}

void WebSocketSession::onClosed(Connection& conn, CloseReason reason) {
    _open = false;
    _reason = reason;
    try {
        _handler->onClose(shared_from_this());
    } catch (const std::exception& e) {
        conn.ownerLogger("switchboard.websocket")
            .error("websocket %Lu (%s): close handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
    }
}

}  // namespace switchboard
