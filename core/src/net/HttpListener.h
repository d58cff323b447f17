// One HTTP/1.1 listener (optionally TLS): POCO's HTTPServer with its own thread pool, a
// swappable route table, a body cap, and the hand-off of upgraded WebSockets to the reactor.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <memory>

#include "config/ListenerOptions.h"
#include "net/Reactor.h"
#include "net/Router.h"
#include "net/TrustedProxies.h"
#include "services/MetricsRegistry.h"

namespace switchboard {

class HttpListener {
public:
    HttpListener(ListenerOptions options, MetricsRegistry& metrics, Reactor& reactor);
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
    const ListenerOptions& options() const { return _options; }

    /// Serves one request (called on a POCO connection thread).
    void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

private:
    bool readBody(Poco::Net::HTTPServerRequest& request, std::string& body) const;
    void discardBody(Poco::Net::HTTPServerRequest& request) const;
    void upgrade(const RouteEntry& route, Poco::Net::HTTPServerRequest& request,
                 Poco::Net::HTTPServerResponse& response, class PocoHttpRequest& wrapped);

    ListenerOptions _options;
    MetricsRegistry& _metrics;
    Reactor& _reactor;
    std::shared_ptr<const RouteTable> _routes;
    std::shared_ptr<const TrustedProxies> _proxies;
    std::unique_ptr<Poco::ThreadPool> _pool;
    std::unique_ptr<Poco::Net::HTTPServer> _server;
    Counter& _notFound;
    Counter& _tooLarge;
    Counter& _handlerErrors;
};

}  // namespace switchboard
