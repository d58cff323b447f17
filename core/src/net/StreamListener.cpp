// Stream listener and sessions (see StreamListener.h).
#include "net/StreamListener.h"

#include <algorithm>

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "net/HttpListener.h"
#include "net/TlsSupport.h"

namespace switchboard {

StreamSession::StreamSession(const std::shared_ptr<Connection>& conn,
                             std::shared_ptr<StreamHandler> handler, const ListenerOptions& options)
    : _conn(conn),
      _handler(std::move(handler)),
      _idleTimeout(options.streamIdleTimeout),
      _peerHost(conn->peerHost()),
      _id(conn->id()),
      _lastData(std::chrono::steady_clock::now()) {}

bool StreamSession::send(std::string_view bytes) {
    auto conn = _conn.lock();
    return conn && _open.load() && conn->send(bytes);
}

std::size_t StreamSession::queued() const {
    auto conn = _conn.lock();
    return conn && _open.load() ? conn->queued() : 0;
}

void StreamSession::close() {
    if (!_open.exchange(false)) {
        return;
    }
    if (auto conn = _conn.lock()) {
        conn->closeAfterFlush(CloseReason::Server);
    }
}

void StreamSession::setData(std::shared_ptr<void> data) {
    std::lock_guard<std::mutex> lock(_dataMutex);
    _data = std::move(data);
}

std::shared_ptr<void> StreamSession::data() const {
    std::lock_guard<std::mutex> lock(_dataMutex);
    return _data;
}

void StreamSession::onOpen(Connection& conn) {
    _lastData = std::chrono::steady_clock::now();
    try {
        _handler->onOpen(shared_from_this());
    } catch (const std::exception& e) {
        conn.ownerLogger("switchboard.stream")
            .error("stream %Lu (%s): open handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
        _open = false;
        conn.abort(CloseReason::Server);
    }
}

void StreamSession::onBytes(Connection& conn, const char* data, std::size_t size) {
    _lastData = std::chrono::steady_clock::now();
    if (!_open.load()) {
        return;
    }
    try {
        _handler->onData(shared_from_this(), std::string_view(data, size));
    } catch (const std::exception& e) {
        conn.ownerLogger("switchboard.stream")
            .error("stream %Lu (%s): data handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
        _open = false;
        conn.abort(CloseReason::ProtocolError);
    }
}

void StreamSession::onEof(Connection& conn) {
    _open = false;
    conn.abort(CloseReason::PeerClosed);
}

void StreamSession::onTick(Connection& conn, SteadyTime now) {
    // Idle means no bytes either way: a chat client that only reads what the server sends it
    // (the seed's protocol has no keepalive frame) is not idle; one that never reads is closed
    // by the write stall long before this.
    if (_open.load() && _idleTimeout.count() > 0 &&
        now - std::max(_lastData, conn.lastWriteProgress()) > _idleTimeout) {
        _open = false;
        conn.abort(CloseReason::Timeout);
    }
}

void StreamSession::onClosed(Connection& conn, CloseReason reason) {
    _open = false;
    _reason = reason;
    try {
        _handler->onClose(shared_from_this());
    } catch (const std::exception& e) {
        conn.ownerLogger("switchboard.stream")
            .error("stream %Lu (%s): close handler failed: %s", static_cast<Poco::UInt64>(_id),
                   _peerHost, std::string(e.what()));
    }
}

StreamListener::StreamListener(ListenerOptions options, Reactor& reactor)
    : _options(std::move(options)),
      _reactor(reactor),
      _connections(std::make_shared<ConnectionCounter>(_options.maxConnections,
                                                       _options.maxConnectionsPerAddress)) {}

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
    if (_options.tls.enabled) {
        _tls = makeServerContext(_options.tls);
    }
    _socket = std::make_unique<Poco::Net::ServerSocket>();
    _socket->bind(Poco::Net::SocketAddress(_options.bind, _options.port), true);
    _socket->listen(4096);
    _socket->setBlocking(false);
    _acceptor = std::make_shared<Acceptor>();
    _acceptor->fd = _socket->impl()->sockfd();
    _acceptor->accept = [this](int fd, const sockaddr_storage& peer, socklen_t) {
        return accept(fd, peer);
    };
    _reactor.listen(_acceptor);
}

std::shared_ptr<Connection> StreamListener::accept(int fd, const sockaddr_storage& peer) {
    auto handler = this->handler();
    std::string host = peerAddressText(peer);
    if (!handler || _connections->add(host, false) != ConnectionCounter::Verdict::Accepted) {
        ::close(fd);  // nothing mounted, or over a cap: closed at once
        return nullptr;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (_tls) {
        ssl = newServerSsl(*_tls, fd);
        if (ssl == nullptr) {
            _connections->release(host);
            ::close(fd);
            return nullptr;
        }
    }
    Connection::Options options;
    options.maxOutbound = _options.streamMaxOutbound;
    options.writeStall = _options.streamIoTimeout;
    options.handshake = _options.streamIoTimeout;
    auto conn = std::make_shared<Connection>(fd, host, ssl, options);
    conn->setProtocol(std::make_shared<StreamSession>(conn, handler, _options));
    conn->setOwner(owner());
    std::weak_ptr<ConnectionCounter> counter = _connections;
    conn->setReleaser([counter, host] {
        if (auto c = counter.lock()) {
            c->release(host);
        }
    });
    return conn;
}

void StreamListener::stop() {
    if (_acceptor) {
        _reactor.unlisten(_acceptor);
        _acceptor.reset();
    }
    if (_socket) {
        _socket->close();
        _socket.reset();
    }
}

}  // namespace switchboard
