// HTTP listener (see HttpListener.h).
#include "net/HttpListener.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include <chrono>
#include <thread>

#include "net/HttpExchange.h"
#include "net/TlsSupport.h"
#include "net/WebSocketSession.h"
#include "switchboard/Json.h"

namespace switchboard {

namespace {

class DispatchHandler : public Poco::Net::HTTPRequestHandler {
public:
    explicit DispatchHandler(HttpListener& listener) : _listener(listener) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        _listener.handle(request, response);
    }

private:
    HttpListener& _listener;
};

class DispatchFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit DispatchFactory(HttpListener& listener) : _listener(listener) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new DispatchHandler(_listener);
    }

private:
    HttpListener& _listener;
};

struct IncompleteBody {};

Poco::Timespan toTimespan(std::chrono::milliseconds ms) {
    return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

}  // namespace

HttpListener::HttpListener(ListenerOptions options, MetricsRegistry& metrics, Reactor& reactor)
    : _options(std::move(options)),
      _metrics(metrics),
      _reactor(reactor),
      _routes(std::make_shared<RouteTable>(_options.name)),
      _notFound(metrics.counter("switchboard_http_unmatched_total",
                                "Requests that matched no route (404/405)",
                                "listener=\"" + _options.name + "\"")),
      _tooLarge(metrics.counter("switchboard_http_body_too_large_total",
                                "Requests refused because the body exceeded max_body",
                                "listener=\"" + _options.name + "\"")),
      _handlerErrors(metrics.counter("switchboard_http_handler_errors_total",
                                     "Handlers that threw (answered 500)",
                                     "listener=\"" + _options.name + "\"")) {}

HttpListener::~HttpListener() {
    stop();
}

void HttpListener::start() {
    Poco::Net::SocketAddress address(_options.bind, _options.port);
    Poco::Net::ServerSocket socket;
    if (_options.tls.enabled) {
        socket = Poco::Net::SecureServerSocket(makeServerContext(_options.tls));
    }
    socket.bind(address, true);
    socket.listen(1024);

    _pool = std::make_unique<Poco::ThreadPool>("http-" + _options.name, 4, _options.threads, 60);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(_options.threads);
    params->setMaxQueued(1024);
    params->setTimeout(toTimespan(_options.requestTimeout));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(toTimespan(_options.keepAliveTimeout));
    params->setMaxKeepAliveRequests(0);
    params->setServerName("switchboard");
    _server =
        std::make_unique<Poco::Net::HTTPServer>(new DispatchFactory(*this), *_pool, socket, params);
    _server->start();
}

void HttpListener::stop(std::chrono::milliseconds grace) {
    if (_server) {
        // stopAll(false): connections finish their current request, then close.
        _server->stopAll(false);
        auto deadline = std::chrono::steady_clock::now() + grace;
        while (_server->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        _server->stopAll(true);
        _server.reset();
    }
    if (_pool) {
        _pool->joinAll();
        _pool.reset();
    }
}

void HttpListener::setTrustedProxies(std::shared_ptr<const TrustedProxies> proxies) {
    std::atomic_store(&_proxies, std::move(proxies));
}

void HttpListener::setRoutes(std::shared_ptr<const RouteTable> routes) {
    std::atomic_store(&_routes, std::move(routes));
}

bool HttpListener::readBody(Poco::Net::HTTPServerRequest& request, std::string& body) const {
    std::istream& in = request.stream();
    if (request.hasContentLength()) {
        auto length = request.getContentLength64();
        if (length < 0 || static_cast<std::uint64_t>(length) > _options.maxBody) {
            return false;
        }
        body.resize(static_cast<std::size_t>(length));
        in.read(body.data(), length);
        if (in.gcount() != length) {
            throw IncompleteBody();  // the client sent less than it announced
        }
        return true;
    }
    if (request.getChunkedTransferEncoding()) {
        char chunk[8192];
        while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
            body.append(chunk, static_cast<std::size_t>(in.gcount()));
            if (body.size() > _options.maxBody) {
                return false;
            }
        }
    }
    return true;
}

void HttpListener::discardBody(Poco::Net::HTTPServerRequest& request) const {
    // A client still uploading would see a reset instead of our 413; read (and drop) a bounded
    // amount so ordinary clients get the answer. Larger uploads are simply cut off.
    std::uint64_t budget = std::max<std::uint64_t>(16u << 20, 4 * _options.maxBody);
    char chunk[16384];
    try {
        std::istream& in = request.stream();
        while (budget > 0 && in.read(chunk, sizeof chunk).gcount() > 0) {
            budget -= std::min<std::uint64_t>(budget, static_cast<std::uint64_t>(in.gcount()));
        }
    } catch (const Poco::Exception&) {
        // the client went away: nothing left to do
    }
}

void HttpListener::handle(Poco::Net::HTTPServerRequest& request,
                          Poco::Net::HTTPServerResponse& response) {
    auto started = std::chrono::steady_clock::now();
    std::shared_ptr<const RouteTable> routes = std::atomic_load(&_routes);
    std::shared_ptr<const TrustedProxies> proxies = std::atomic_load(&_proxies);

    const std::string& uri = request.getURI();
    std::size_t q = uri.find('?');
    std::string path = uri.substr(0, q);
    if (path.find('%') != std::string::npos) {
        std::string decoded;
        Poco::URI::decode(path, decoded);
        path.swap(decoded);
    }
    PocoHttpRequest req(request, std::move(path), q == std::string::npos ? "" : uri.substr(q + 1),
                        _options.tls.enabled, proxies.get());
    PocoHttpResponse resp(response);

    RouteTable::Match match = routes->match(request.getMethod(), req.path(), req.params());
    if (match.entry != nullptr && match.entry->webSocket) {
        upgrade(*match.entry, request, response, req);
        return;
    }
    bool tooLarge = false;
    bool incomplete = false;
    try {
        tooLarge = !readBody(request, req.mutableBody());
    } catch (const IncompleteBody&) {
        incomplete = true;
    } catch (const Poco::Exception&) {
        incomplete = true;  // timeout or reset while reading the body
    }
    if (incomplete) {
        resp.error(400, "request body shorter than its Content-Length");
        resp.closeAfter();
    } else if (tooLarge) {
        _tooLarge.inc();
        resp.error(413,
                   "request body too large (limit " + std::to_string(_options.maxBody) + " bytes)");
        resp.closeAfter();  // the unread rest of the body would desync keep-alive
    } else if (match.entry == nullptr) {
        _notFound.inc();
        if (match.pathKnown) {
            resp.error(405, "method not allowed");
        } else {
            resp.error(404, "not found");
        }
    } else {
        try {
            match.entry->handler(req, resp);
        } catch (const std::exception& e) {
            _handlerErrors.inc();
            Poco::Logger::get("switchboard." + match.entry->owner)
                .error("%s %s failed: %s", request.getMethod(), match.entry->pattern,
                       std::string(e.what()));
            if (!resp.streamed()) {
                resp.reset();
                resp.error(500, "internal error");
            }
        }
    }
    resp.send(request.getKeepAlive());
    if (tooLarge) {
        discardBody(request);
    }
    if (match.entry != nullptr && match.entry->metrics) {
        auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
        match.entry->metrics->observe(resp.status(), static_cast<std::uint64_t>(micros));
    }
}

void HttpListener::upgrade(const RouteEntry& route, Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response, PocoHttpRequest& wrapped) {
    std::shared_ptr<WebSocketSession> session;
    try {
        // Sends the 101 and detaches the socket from the HTTP session: returning frees this
        // thread while the WebSocket lives on in the reactor.
        Poco::Net::WebSocket ws(request, response);
        session = std::make_shared<WebSocketSession>(std::move(ws), route.webSocket,
                                                     _options.webSocket, wrapped.peerHost());
    } catch (const Poco::Net::WebSocketException& e) {
        if (!response.sent()) {
            PocoHttpResponse resp(response);
            resp.error(400, "WebSocket upgrade required");
            resp.send(false);
        }
        if (route.metrics) {
            route.metrics->observe(400, 0);
        }
        return;
    }
    if (route.metrics) {
        route.metrics->observe(101, 0);
    }
    try {
        route.webSocket->onOpen(session, wrapped);
    } catch (const std::exception& e) {
        Poco::Logger::get("switchboard." + route.owner)
            .error("WebSocket open handler failed: %s", std::string(e.what()));
        session->close(1011, "internal error");
    }
    _reactor.adopt(std::move(session), route.owner);
}

}  // namespace switchboard
