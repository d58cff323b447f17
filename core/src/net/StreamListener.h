// A stream listener: TCP (normally TLS) connections for framed protocols. The TLS handshake
// runs on a small accept pool with timeouts; afterwards the reactor serves the socket and the
// plugin's StreamHandler sees the bytes.
#pragma once

#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "config/ListenerOptions.h"
#include "net/Reactor.h"
#include "net/SessionCore.h"
#include "switchboard/Stream.h"

namespace switchboard {

class StreamSession : public StreamConnection,
                      public ReactorConnection,
                      public std::enable_shared_from_this<StreamSession> {
public:
    StreamSession(Poco::Net::StreamSocket socket, std::shared_ptr<StreamHandler> handler,
                  const ListenerOptions& options);

    std::uint64_t id() const override { return _id; }
    std::string peerHost() const override { return _peerHost; }
    bool send(std::string_view bytes) override;
    void close() override;
    bool isOpen() const override { return _core.open.load(); }
    void setData(std::shared_ptr<void> data) override { _core.setData(std::move(data)); }
    std::shared_ptr<void> data() const override { return _core.data(); }

    const Poco::Net::Socket& socket() const override { return _socket; }
    bool onReadable() override;
    bool onTick(std::chrono::steady_clock::time_point now) override;
    void onClosed() override;

private:
    Poco::Net::StreamSocket _socket;
    std::shared_ptr<StreamHandler> _handler;
    std::chrono::milliseconds _idleTimeout;
    std::string _peerHost;
    std::uint64_t _id;
    SessionCore _core;
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
    Reactor& reactor() { return _reactor; }

private:
    ListenerOptions _options;
    Reactor& _reactor;
    std::shared_ptr<StreamHandler> _handler;
    std::shared_ptr<const std::string> _owner = std::make_shared<const std::string>();
    std::unique_ptr<Poco::ThreadPool> _pool;
    std::unique_ptr<Poco::Net::TCPServer> _server;
};

}  // namespace switchboard
