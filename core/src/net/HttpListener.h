// One HTTP/1.1 listener (optionally TLS) on the event loops: a listening socket whose
// connections are HttpSessions, a swappable route table, the listener's handler threads and the
// limits a hostile client meets (connection caps, request deadline, body budget).
#pragma once

#include <Poco/AutoPtr.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "config/ListenerOptions.h"
#include "net/ConnectionLimits.h"
#include "net/Reactor.h"
#include "net/Router.h"
#include "net/TrustedProxies.h"
#include "services/AccessLog.h"
#include "services/MetricsRegistry.h"
#include "services/WorkPool.h"

namespace Poco::Net {
class Context;
class ServerSocket;
}  // namespace Poco::Net

namespace switchboard {

/// What a listener's connections share with it; they keep it alive while they exist.
struct HttpListenerState {
    HttpListenerState(ListenerOptions options, MetricsRegistry& metrics, ByteBudget& budget);

    std::shared_ptr<const RouteTable> routes() const { return std::atomic_load(&_routes); }
    std::shared_ptr<const TrustedProxies> proxies() const { return std::atomic_load(&_proxies); }

    const ListenerOptions options;
    ByteBudget& budget;
    ConnectionCounter connections;
    WorkPool pool;
    Counter& notFound;
    Counter& tooLarge;
    Counter& handlerErrors;
    Counter& refused;   ///< connections over a cap
    Counter& rejected;  ///< requests refused before a handler (framing, deadline, budget, busy)
    AccessLog* accessLog = nullptr;  ///< set before start(); outlives the listener
    std::shared_ptr<const RouteTable> _routes;
    std::shared_ptr<const TrustedProxies> _proxies;
};

class HttpListener {
public:
    HttpListener(ListenerOptions options, MetricsRegistry& metrics, Reactor& reactor,
                 ByteBudget& budget);
    ~HttpListener();

    /// Binds the socket and starts serving. Throws Poco::Exception if the port is unavailable.
    void start();
    /// Stops accepting, lets in-flight requests finish (at most `grace`), then closes every
    /// connection. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));
    /// Replaces the route table; requests already matched finish on the old one.
    void setRoutes(std::shared_ptr<const RouteTable> routes);
    /// The proxies whose X-Forwarded-For names the client (HttpRequest::clientAddress).
    void setTrustedProxies(std::shared_ptr<const TrustedProxies> proxies);
    const ListenerOptions& options() const { return _state->options; }
    /// Where each answered request is logged (server.access_log); call before start().
    void setAccessLog(AccessLog* log) { _state->accessLog = log; }

private:
    std::shared_ptr<Connection> accept(int fd, const sockaddr_storage& peer, socklen_t length);

    std::shared_ptr<HttpListenerState> _state;
    Reactor& _reactor;
    std::unique_ptr<Poco::Net::ServerSocket> _socket;
    Poco::AutoPtr<Poco::Net::Context> _tls;
    std::shared_ptr<Acceptor> _acceptor;
};

/// "127.0.0.1" / "2001:db8::1" for an accepted peer.
std::string peerAddressText(const sockaddr_storage& peer);

/// A server-side SSL object for an accepted socket on `context` (which must outlive it).
SSL* newServerSsl(Poco::Net::Context& context, int fd);

}  // namespace switchboard
