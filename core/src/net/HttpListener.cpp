// HTTP listener on the event loops (see HttpListener.h).
#include "net/HttpListener.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <thread>

#include "net/HttpExchange.h"
#include "net/HttpSession.h"
#include "net/TlsSupport.h"

namespace switchboard {

namespace {

/// Handler tasks that may wait for one of a listener's threads; beyond, 503 at once.
constexpr std::size_t kHandlerQueue = 8192;

/// A connection over a cap: answered 503 (after the TLS handshake, on TLS) and closed.
class Refusal : public Protocol {
public:
    explicit Refusal(std::string message) : _message(std::move(message)) {}
    void onOpen(Connection& conn) override {
        conn.send(errorResponse(503, _message, true, 1));
        conn.closeAfterFlush(CloseReason::Overflow);
    }
    void onBytes(Connection&, const char*, std::size_t) override {}
    void onTick(Connection&, SteadyTime) override {}
    void onClosed(Connection&, CloseReason) override {}

private:
    std::string _message;
};

std::string label(const ListenerOptions& o) {
    return "listener=\"" + o.name + "\"";
}

}  // namespace

std::string peerAddressText(const sockaddr_storage& peer) {
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
    } else if (peer.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text,
                  sizeof text);
    }
    return text;
}

SSL* newServerSsl(Poco::Net::Context& context, int fd) {
    SSL* ssl = SSL_new(context.sslContext());
    if (ssl == nullptr) {
        return nullptr;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    // Idle connections give their TLS buffers back; writes may be partial and resumed.
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One read(2) takes whatever has arrived, instead of a record header and then its body: a
    // connection sending small frames one by one costs one system call per record fewer. The
    // loop reads until OpenSSL wants more, so nothing stays unread in its buffer.
    SSL_set_read_ahead(ssl, 1);
    return ssl;
}

HttpListenerState::HttpListenerState(ListenerOptions o, MetricsRegistry& metrics, ByteBudget& bytes)
    : options(std::move(o)),
      budget(bytes),
      connections(options.maxConnections, options.maxConnectionsPerAddress),
      // Handler threads named after the listener: sb-public-0 (cut to 15 characters).
      pool(static_cast<std::size_t>(options.threads), kHandlerQueue, "sb-" + options.name + "-"),
      notFound(metrics.counter("switchboard_http_unmatched_total",
                               "Requests that matched no route (404/405)", label(options))),
      tooLarge(metrics.counter("switchboard_http_body_too_large_total",
                               "Requests refused because the body exceeded max_body",
                               label(options))),
      handlerErrors(metrics.counter("switchboard_http_handler_errors_total",
                                    "Handlers that threw (answered 500)", label(options))),
      refused(metrics.counter("switchboard_http_connections_refused_total",
                              "Connections refused over max_connections or "
                              "max_connections_per_address",
                              label(options))),
      rejected(metrics.counter("switchboard_http_requests_rejected_total",
                               "Requests answered by the host before any handler (bad "
                               "framing, deadline, body budget, no free handler)",
                               label(options))),
      _routes(std::make_shared<RouteTable>(options.name)) {}

HttpListener::HttpListener(ListenerOptions options, MetricsRegistry& metrics, Reactor& reactor,
                           ByteBudget& budget)
    : _state(std::make_shared<HttpListenerState>(std::move(options), metrics, budget)),
      _reactor(reactor) {}

HttpListener::~HttpListener() {
    stop();
}

void HttpListener::start() {
    const ListenerOptions& o = _state->options;
    if (o.tls.enabled) {
        _tls = makeServerContext(o.tls);
    }
    _socket = std::make_unique<Poco::Net::ServerSocket>();
    _socket->bind(Poco::Net::SocketAddress(o.bind, o.port), true);
    _socket->listen(4096);
    _socket->setBlocking(false);
    _acceptor = std::make_shared<Acceptor>();
    _acceptor->fd = _socket->impl()->sockfd();
    _acceptor->accept = [this](int fd, const sockaddr_storage& peer, socklen_t length) {
        return accept(fd, peer, length);
    };
    _reactor.listen(_acceptor);
}

std::shared_ptr<Connection> HttpListener::accept(int fd, const sockaddr_storage& peer, socklen_t) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const ListenerOptions& o = _state->options;
    std::string host = peerAddressText(peer);
    SSL* ssl = nullptr;
    if (_tls) {
        ssl = newServerSsl(*_tls, fd);
        if (ssl == nullptr) {
            ::close(fd);
            return nullptr;
        }
    }
    Connection::Options options;
    options.writeStall = o.requestTimeout;
    options.handshake = o.requestTimeout;
    options.lingerOnClose = true;
    auto conn = std::make_shared<Connection>(fd, host, ssl, options);
    auto proxies = _state->proxies();
    bool exempt = proxies && proxies->contains(host);
    switch (_state->connections.add(host, exempt)) {
        case ConnectionCounter::Verdict::Accepted: {
            conn->setProtocol(std::make_shared<HttpSession>(_state));
            std::weak_ptr<HttpListenerState> state = _state;
            conn->setReleaser([state, host] {
                if (auto s = state.lock()) {
                    s->connections.release(host);
                }
            });
            break;
        }
        case ConnectionCounter::Verdict::ListenerFull:
            _state->refused.inc();
            conn->setProtocol(std::make_shared<Refusal>("too many connections"));
            break;
        case ConnectionCounter::Verdict::AddressFull:
            _state->refused.inc();
            conn->setProtocol(std::make_shared<Refusal>("too many connections from this address"));
            break;
    }
    return conn;
}

void HttpListener::stop(std::chrono::milliseconds grace) {
    if (_acceptor) {
        _reactor.unlisten(_acceptor);
        _acceptor.reset();
    }
    if (!_socket) {
        return;
    }
    _socket->close();
    _socket.reset();
    // Requests whose handlers run finish (for `grace` at most), then every connection of this
    // listener closes; a handler still running after that is waited for.
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (_state->pool.queued() + _state->pool.running() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    HttpListenerState* state = _state.get();
    _reactor.closeMatching(
        [state](const Connection& c) {
            auto* session = dynamic_cast<const HttpSession*>(c.protocol());
            return session != nullptr && session->listener() == state;
        },
        CloseReason::Shutdown);
    _state->pool.stop();
}

void HttpListener::setTrustedProxies(std::shared_ptr<const TrustedProxies> proxies) {
    std::atomic_store(&_state->_proxies, std::move(proxies));
}

void HttpListener::setRoutes(std::shared_ptr<const RouteTable> routes) {
    std::atomic_store(&_state->_routes, std::move(routes));
}

}  // namespace switchboard
