// Stream listener and sessions (see StreamListener.h).
#include "net/StreamListener.h"

#include <Poco/Logger.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include "net/TlsSupport.h"

namespace switchboard {

namespace {

std::atomic<std::uint64_t> nextStreamId{1};

Poco::Timespan toTimespan(std::chrono::milliseconds ms) {
    return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

/// Runs on the accept pool: finishes the TLS handshake, then hands the socket to the reactor.
class Handshake : public Poco::Net::TCPServerConnection {
public:
    Handshake(const Poco::Net::StreamSocket& socket, StreamListener& listener)
        : TCPServerConnection(socket), _listener(listener) {}

    void run() override {
        const ListenerOptions& o = _listener.options();
        auto handler = _listener.handler();
        if (!handler) {
            return;  // nothing mounted any more: the socket closes
        }
        try {
            Poco::Net::StreamSocket s = socket();
            s.setReceiveTimeout(toTimespan(o.streamIoTimeout));
            s.setSendTimeout(toTimespan(o.streamIoTimeout));
            s.setNoDelay(true);
            if (o.tls.enabled) {
                Poco::Net::SecureStreamSocket secure(s);
                secure.completeHandshake();
                s = secure;
            }
            auto session = std::make_shared<StreamSession>(s, handler, o);
            handler->onOpen(session);
            _listener.reactor().adopt(session, _listener.owner());
        } catch (const Poco::Exception& e) {
            logger().debug("listener %s: handshake failed: %s", o.name, e.displayText());
        } catch (const std::exception& e) {
            logger().error("listener %s: stream open handler failed: %s", o.name,
                           std::string(e.what()));
        }
    }

private:
    /// The serving plugin's logger: lines about its connections name it.
    Poco::Logger& logger() const {
        std::string owner = _listener.owner();
        return Poco::Logger::get(owner.empty() ? "switchboard.stream" : "switchboard." + owner);
    }

    StreamListener& _listener;
};

class HandshakeFactory : public Poco::Net::TCPServerConnectionFactory {
public:
    explicit HandshakeFactory(StreamListener& listener) : _listener(listener) {}
    Poco::Net::TCPServerConnection* createConnection(
        const Poco::Net::StreamSocket& socket) override {
        return new Handshake(socket, _listener);
    }

private:
    StreamListener& _listener;
};

}  // namespace

StreamSession::StreamSession(Poco::Net::StreamSocket socket, std::shared_ptr<StreamHandler> handler,
                             const ListenerOptions& options)
    : _socket(std::move(socket)),
      _handler(std::move(handler)),
      _idleTimeout(options.streamIdleTimeout),
      _peerHost(_socket.peerAddress().host().toString()),
      _id(nextStreamId.fetch_add(1)) {}

bool StreamSession::send(std::string_view bytes) {
    std::lock_guard<std::mutex> lock(_core.ioMutex);
    if (!_core.open) {
        return false;
    }
    try {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            int n = _socket.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
            if (n <= 0) {
                throw Poco::IOException("connection closed while sending");
            }
            sent += static_cast<std::size_t>(n);
        }
        return true;
    } catch (const Poco::Exception&) {
        _core.open = false;
        requestClose();
        return false;
    }
}

void StreamSession::close() {
    _core.open = false;
    requestClose();
}

bool StreamSession::onReadable() {
    thread_local char buffer[16384];
    do {
        int n = 0;
        {
            std::lock_guard<std::mutex> lock(_core.ioMutex);
            try {
                n = _socket.receiveBytes(buffer, sizeof buffer);
            } catch (const Poco::Exception&) {
                return false;
            }
        }
        if (n <= 0) {
            return false;
        }
        _core.touch();
        try {
            _handler->onData(shared_from_this(),
                             std::string_view(buffer, static_cast<std::size_t>(n)));
        } catch (const std::exception& e) {
            ownerLogger("switchboard.stream")
                .error("stream %Lu (%s): data handler failed: %s", static_cast<Poco::UInt64>(_id),
                       _peerHost, std::string(e.what()));
            return false;
        }
    } while (_core.open &&
             _socket.available() > 0);  // TLS may hold decrypted bytes epoll can't see
    return _core.open;
}

bool StreamSession::onTick(std::chrono::steady_clock::time_point now) {
    return !_core.idleLongerThan(now, _idleTimeout);
}

void StreamSession::onClosed() {
    if (_core.closeOnce(_socket)) {
        try {
            _handler->onClose(shared_from_this());
        } catch (const std::exception& e) {
            ownerLogger("switchboard.stream")
                .error("stream %Lu (%s): close handler failed: %s", static_cast<Poco::UInt64>(_id),
                       _peerHost, std::string(e.what()));
        }
    }
}

StreamListener::StreamListener(ListenerOptions options, Reactor& reactor)
    : _options(std::move(options)), _reactor(reactor) {}

StreamListener::~StreamListener() {
    stop();
}

void StreamListener::setHandler(std::shared_ptr<StreamHandler> handler, const std::string& owner) {
    std::atomic_store(&_owner, std::make_shared<const std::string>(owner));
    std::atomic_store(&_handler, std::move(handler));
}

std::string StreamListener::owner() const {
    return *std::atomic_load(&_owner);
}

std::shared_ptr<StreamHandler> StreamListener::handler() const {
    return std::atomic_load(&_handler);
}

void StreamListener::start() {
    Poco::Net::SocketAddress address(_options.bind, _options.port);
    Poco::Net::ServerSocket socket;
    if (_options.tls.enabled) {
        // The handshake is completed explicitly on the accept pool (see Handshake::run).
        Poco::Net::Context::Ptr context = makeServerContext(_options.tls);
        socket = Poco::Net::SecureServerSocket(context);
    }
    socket.bind(address, true);
    socket.listen(1024);
    _pool = std::make_unique<Poco::ThreadPool>("stream-" + _options.name, 2, 32, 60);
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(32);
    params->setMaxQueued(1024);
    _server =
        std::make_unique<Poco::Net::TCPServer>(new HandshakeFactory(*this), *_pool, socket, params);
    _server->start();
}

void StreamListener::stop() {
    if (_server) {
        _server->stop();
        _server.reset();
    }
    if (_pool) {
        _pool->joinAll();
        _pool.reset();
    }
}

}  // namespace switchboard
