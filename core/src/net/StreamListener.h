// A stream listener: TCP (normally TLS) connections for framed protocols such as the chat
// protocol, on the event loops from accept to close: the TLS handshake is non-blocking with a
// deadline (stream.io_timeout), the plugin's StreamHandler sees bytes as they arrive, and what
// it sends goes through the connection's bounded queue (stream.max_outbound).
#pragma once

#include <Poco/AutoPtr.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "config/ListenerOptions.h"
#include "net/ConnectionLimits.h"
#include "net/Reactor.h"
#include "switchboard/Stream.h"

namespace Poco::Net {
class Context;
class ServerSocket;
}  // namespace Poco::Net

namespace switchboard {

class StreamSession : public Protocol,
                      public StreamConnection,
                      public std::enable_shared_from_this<StreamSession> {
public:
    StreamSession(const std::shared_ptr<Connection>& conn, std::shared_ptr<StreamHandler> handler,
                  const ListenerOptions& options);

    // StreamConnection (plugin side, any thread)
    std::uint64_t id() const override { return _id; }
    std::string peerHost() const override { return _peerHost; }
    bool send(std::string_view bytes) override;
    std::size_t queued() const override;
    void close() override;
    bool isOpen() const override { return _open.load(); }
    void setData(std::shared_ptr<void> data) override;
    std::shared_ptr<void> data() const override;
    CloseReason closeReason() const override { return _reason.load(); }

    // Protocol (loop thread)
    void onOpen(Connection& conn) override;
    void onBytes(Connection& conn, const char* data, std::size_t size) override;
    void onEof(Connection& conn) override;
    void onTick(Connection& conn, SteadyTime now) override;
    void onClosed(Connection& conn, CloseReason reason) override;

private:
    std::weak_ptr<Connection> _conn;
    std::shared_ptr<StreamHandler> _handler;
    const std::chrono::milliseconds _idleTimeout;
    const std::string _peerHost;
    const std::uint64_t _id;
    std::atomic<bool> _open{true};
    std::atomic<CloseReason> _reason{CloseReason::PeerClosed};
    mutable std::mutex _dataMutex;
    std::shared_ptr<void> _data;
    SteadyTime _lastData;  ///< loop thread
};

class StreamListener {
public:
    StreamListener(ListenerOptions options, Reactor& reactor);
    ~StreamListener();
    void start();
    void stop();
    /// The plugin handler for new connections (nullptr: refuse them) and its plugin's name.
    void setHandler(std::shared_ptr<StreamHandler> handler, const std::string& owner);
    std::string owner() const;
    std::shared_ptr<StreamHandler> handler() const;
    const ListenerOptions& options() const { return _options; }

private:
    std::shared_ptr<Connection> accept(int fd, const sockaddr_storage& peer);

    const ListenerOptions _options;
    Reactor& _reactor;
    std::shared_ptr<ConnectionCounter> _connections;
    std::shared_ptr<StreamHandler> _handler;
    std::shared_ptr<const std::string> _owner = std::make_shared<const std::string>();
    std::unique_ptr<Poco::Net::ServerSocket> _socket;
    Poco::AutoPtr<Poco::Net::Context> _tls;
    std::shared_ptr<Acceptor> _acceptor;
};

}  // namespace switchboard
