// WebSocket sessions on the reactor (see WebSocketSession.h).
#include "net/WebSocketSession.h"

#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>

#include <vector>

namespace switchboard {

namespace {
std::atomic<std::uint64_t> nextSessionId{1};

/// One receive buffer per loop thread, sized to the largest message allowed so far.
std::vector<char>& receiveBuffer(std::size_t size) {
    thread_local std::vector<char> buffer;
    if (buffer.size() < size) {
        buffer.resize(size);
    }
    return buffer;
}
}  // namespace

WebSocketSession::WebSocketSession(Poco::Net::WebSocket socket,
                                   std::shared_ptr<WebSocketHandler> handler,
                                   const WebSocketLimits& limits, std::string peerHost)
    : _socket(std::move(socket)),
      _handler(std::move(handler)),
      _limits(limits),
      _peerHost(std::move(peerHost)),
      _id(nextSessionId.fetch_add(1)) {
    _socket.setMaxPayloadSize(static_cast<int>(_limits.maxMessage));
    Poco::Timespan io(
        std::chrono::duration_cast<std::chrono::microseconds>(_limits.ioTimeout).count());
    _socket.setReceiveTimeout(io);
    _socket.setSendTimeout(io);
}

bool WebSocketSession::sendFrame(const char* data, std::size_t size, int flags) {
    std::lock_guard<std::mutex> lock(_core.ioMutex);
    if (!_core.open) {
        return false;
    }
    try {
        _socket.sendFrame(data, static_cast<int>(size), flags);
        return true;
    } catch (const Poco::Exception&) {
        // A send that timed out mid-frame leaves the stream unusable: drop the connection.
        _core.open = false;
        requestClose();
        return false;
    }
}

bool WebSocketSession::sendText(std::string_view text) {
    return sendFrame(text.data(), text.size(),
                     Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_TEXT);
}

void WebSocketSession::close(std::uint16_t code, const std::string& reason) {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload += reason.substr(0, 120);
    sendFrame(payload.data(), payload.size(),
              Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_CLOSE);
    _core.open = false;
    requestClose();
}

bool WebSocketSession::onReadable() {
    // Data the HTTP parser or TLS already buffered is invisible to epoll: keep reading while
    // the socket reports bytes available.
    do {
        if (!readFrame()) {
            return false;
        }
    } while (_core.open && _socket.available() > 0);
    return _core.open;
}

bool WebSocketSession::readFrame() {
    std::vector<char>& buffer = receiveBuffer(_limits.maxMessage);
    int flags = 0;
    int n = 0;
    {
        std::lock_guard<std::mutex> lock(_core.ioMutex);
        try {
            n = _socket.receiveFrame(buffer.data(), static_cast<int>(_limits.maxMessage), flags);
        } catch (const Poco::Net::WebSocketException& e) {
            if (e.code() == Poco::Net::WebSocket::WS_ERR_PAYLOAD_TOO_BIG) {
                _core.open = false;
                const char msg[] = "\x03\xf1message too big";  // 1009
                try {
                    _socket.sendFrame(msg, sizeof msg - 1,
                                      Poco::Net::WebSocket::FRAME_FLAG_FIN |
                                          Poco::Net::WebSocket::FRAME_OP_CLOSE);
                } catch (...) {
                }
            }
            return false;
        } catch (const Poco::Exception&) {
            return false;  // timeout mid-frame, reset, TLS error: the connection is done
        }
    }
    if (n == 0 && flags == 0) {
        return false;  // peer closed the TCP connection
    }
    _core.touch();
    int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
    switch (opcode) {
        case Poco::Net::WebSocket::FRAME_OP_PING:
            sendFrame(buffer.data(), static_cast<std::size_t>(n),
                      Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_PONG);
            return true;
        case Poco::Net::WebSocket::FRAME_OP_PONG:
            return true;
        case Poco::Net::WebSocket::FRAME_OP_CLOSE:
            sendFrame(buffer.data(), static_cast<std::size_t>(std::min(n, 2)),
                      Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_CLOSE);
            _core.open = false;
            return false;
        default:
            break;
    }
    _fragments.append(buffer.data(), static_cast<std::size_t>(n));
    if (_fragments.size() > _limits.maxMessage) {
        close(1009, "message too big");
        return false;
    }
    if ((flags & Poco::Net::WebSocket::FRAME_FLAG_FIN) == 0) {
        return true;  // more fragments follow
    }
    std::string message;
    message.swap(_fragments);
    auto self = shared_from_this();
    try {
        _handler->onMessage(self, message);
    } catch (const std::exception& e) {
        ownerLogger("switchboard.websocket")
            .error("websocket %Lu (%s): message handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
    }
    return true;
}

bool WebSocketSession::onTick(std::chrono::steady_clock::time_point now) {
    if (_core.idleLongerThan(now, _limits.idleTimeout)) {
        close(1001, "idle timeout");
        return false;
    }
    return true;
}

void WebSocketSession::onClosed() {
    if (_core.closeOnce(_socket)) {
        try {
            _handler->onClose(shared_from_this());
        } catch (const std::exception& e) {
            ownerLogger("switchboard.websocket")
                .error("websocket %Lu (%s): close handler failed: %s",
                       static_cast<Poco::UInt64>(_id), _peerHost, std::string(e.what()));
        }
    }
}

}  // namespace switchboard
