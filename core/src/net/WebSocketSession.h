// One server-side WebSocket after its handshake: reads frames on its reactor thread, reassembles
// fragments, answers PING and CLOSE, and lets any thread send. All socket I/O is serialised by
// one mutex, which also keeps TLS (wss) safe: OpenSSL forbids concurrent use of one SSL object.
#pragma once

#include <Poco/Net/WebSocket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "config/ListenerOptions.h"
#include "net/Reactor.h"
#include "net/SessionCore.h"
#include "switchboard/WebSocket.h"

namespace switchboard {

class WebSocketSession : public WebSocketConnection,
                         public ReactorConnection,
                         public std::enable_shared_from_this<WebSocketSession> {
public:
    WebSocketSession(Poco::Net::WebSocket socket, std::shared_ptr<WebSocketHandler> handler,
                     const WebSocketLimits& limits, std::string peerHost);

    // WebSocketConnection (plugin side)
    std::uint64_t id() const override { return _id; }
    std::string peerHost() const override { return _peerHost; }
    bool sendText(std::string_view text) override;
    void close(std::uint16_t code, const std::string& reason) override;
    bool isOpen() const override { return _core.open.load(); }
    void setData(std::shared_ptr<void> data) override { _core.setData(std::move(data)); }
    std::shared_ptr<void> data() const override { return _core.data(); }

    // ReactorConnection (event loop side)
    const Poco::Net::Socket& socket() const override { return _socket; }
    bool onReadable() override;
    bool onTick(std::chrono::steady_clock::time_point now) override;
    void onClosed() override;

private:
    bool readFrame();
    bool sendFrame(const char* data, std::size_t size, int flags);

    Poco::Net::WebSocket _socket;
    std::shared_ptr<WebSocketHandler> _handler;
    WebSocketLimits _limits;
    std::string _peerHost;
    std::uint64_t _id;
    SessionCore _core;
    std::string _fragments;  ///< message being reassembled (loop thread only)
};

}  // namespace switchboard
