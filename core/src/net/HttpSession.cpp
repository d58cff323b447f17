// HTTP/1.1 sessions on the event loops (see HttpSession.h).
#include "net/HttpSession.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Logger.h>
#include <Poco/SHA1Engine.h>
#include <Poco/String.h>

#include <sstream>

#include "net/HttpExchange.h"
#include "net/HttpListener.h"
#include "net/WebSocketSession.h"
#include "services/MetricsRegistry.h"

namespace switchboard {

namespace {

HttpRequestParser::Limits parserLimits(const ListenerOptions& options) {
    HttpRequestParser::Limits limits;
    limits.maxBody = options.maxBody;
    return limits;
}

bool hasToken(const std::string* value, std::string_view token) {
    if (value == nullptr) {
        return false;
    }
    std::string lower = Poco::toLower(*value);
    std::size_t pos = 0;
    while ((pos = lower.find(token, pos)) != std::string::npos) {
        bool startOk = pos == 0 || lower[pos - 1] == ',' || lower[pos - 1] == ' ';
        std::size_t end = pos + token.size();
        bool endOk = end == lower.size() || lower[end] == ',' || lower[end] == ' ';
        if (startOk && endOk) {
            return true;
        }
        pos = end;
    }
    return false;
}

std::string webSocketAccept(const std::string& key) {
    Poco::SHA1Engine sha1;
    sha1.update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    const Poco::DigestEngine::Digest& digest = sha1.digest();
    std::ostringstream out;
    Poco::Base64Encoder base64(out);
    base64.write(reinterpret_cast<const char*>(digest.data()),
                 static_cast<std::streamsize>(digest.size()));
    base64.close();
    return out.str();
}

std::uint64_t microsSince(SteadyTime start) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count());
}

}  // namespace

/// One request and its response, shared by the loop and the handler thread.
struct HttpSession::Exchange {
    Exchange(ServedRequest&& req, std::shared_ptr<Connection> conn,
             std::shared_ptr<const RouteTable> table, SteadyTime start)
        : request(std::move(req)),
          response(std::move(conn)),
          routes(std::move(table)),
          started(start) {}
    ServedRequest request;
    ServedResponse response;
    std::shared_ptr<const RouteTable> routes;  ///< keeps the matched entry alive
    const RouteEntry* entry = nullptr;
    SteadyTime started;
};

HttpSession::HttpSession(std::shared_ptr<HttpListenerState> listener)
    : _listener(std::move(listener)),
      _parser(parserLimits(_listener->options)),
      _since(std::chrono::steady_clock::now()) {}

HttpSession::~HttpSession() {
    release();
}

void HttpSession::onOpen(Connection&) {
    _since = std::chrono::steady_clock::now();
}

void HttpSession::onBytes(Connection& conn, const char* data, std::size_t size) {
    if (_busy && _running && _running->response.streamed()) {
        return;  // nothing may follow a request answered with a stream: dropped
    }
    if (_busy) {
        _pending.append(data, size);
        conn.pauseReading();
        return;
    }
    parse(conn, data, size);
}

void HttpSession::parse(Connection& conn, const char* data, std::size_t size) {
    while (!_closed && conn.open()) {
        std::size_t consumed = 0;
        HttpRequestParser::Status status = _parser.feed(data, size, consumed);
        data += consumed;
        size -= consumed;
        if (!_timing && _parser.started()) {
            _timing = true;
            _since = std::chrono::steady_clock::now();
        }
        if (status == HttpRequestParser::Status::Error) {
            if (_parser.errorStatus() == 413) {
                _listener->tooLarge.inc();
            }
            refuse(conn, _parser.errorStatus(), _parser.errorReason());
            return;
        }
        if (_parser.headComplete()) {
            if (!charge(conn)) {
                return;
            }
            if (!_continueSent && status == HttpRequestParser::Status::NeedMore) {
                _continueSent = true;
                for (const auto& [name, value] : _parser.request().headers) {
                    if (Poco::icompare(name, "Expect") == 0 &&
                        Poco::icompare(value, "100-continue") == 0) {
                        conn.send("HTTP/1.1 100 Continue\r\n\r\n");
                    }
                }
            }
        }
        if (status == HttpRequestParser::Status::NeedMore) {
            return;
        }
        dispatch(conn);
        if (conn.protocol() != this) {
            // Upgraded: what follows the request belongs to the WebSocket.
            if (size > 0 && conn.protocol() != nullptr) {
                conn.protocol()->onBytes(conn, data, size);
            }
            return;
        }
        if (_busy) {
            _pending.append(data, size);
            conn.pauseReading();
            return;
        }
        if (size == 0) {
            return;
        }
    }
}

bool HttpSession::charge(Connection& conn) {
    std::size_t held = _parser.request().body.capacity();
    if (held <= _charged) {
        return true;
    }
    if (!_listener->budget.take(held - _charged)) {
        refuse(conn, 503, "server busy: too many request bytes buffered", 1);
        return false;
    }
    _charged = held;
    return true;
}

void HttpSession::release() {
    if (_charged > 0) {
        _listener->budget.give(_charged);
        _charged = 0;
    }
}

void HttpSession::refuse(Connection& conn, int status, const std::string& message, int retryAfter) {
    if (status != 413) {
        _listener->rejected.inc();
    }
    conn.send(errorResponse(status, message, true, retryAfter));
    conn.closeAfterFlush(CloseReason::ProtocolError);
    _timing = false;
    release();
}

void HttpSession::dispatch(Connection& conn) {
    std::shared_ptr<const RouteTable> routes = _listener->routes();
    auto exchange =
        std::make_shared<Exchange>(ServedRequest(std::move(_parser.request()), conn.peerHost(),
                                                 conn.secure(), _listener->proxies()),
                                   conn.shared_from_this(), routes, _since);
    ServedRequest& request = exchange->request;
    RouteTable::Match match = routes->match(request.method(), request.path(), request.params());
    exchange->entry = match.entry;
    if (match.entry != nullptr && match.entry->webSocket) {
        upgrade(conn, *match.entry, std::move(exchange));
        return;
    }
    if (match.entry == nullptr) {
        _listener->notFound.inc();
        exchange->response.error(match.pathKnown ? 405 : 404,
                                 match.pathKnown ? "method not allowed" : "not found");
        complete(conn, *exchange,
                 exchange->response.serialize(request.keepAlive() && !_peerDone,
                                              request.method() == "HEAD"));
        return;
    }
    if (match.entry->nonBlocking) {
        runHandler(*exchange);
        complete(conn, *exchange,
                 exchange->response.serialize(request.keepAlive() && !_peerDone,
                                              request.method() == "HEAD"));
        return;
    }
    _busy = true;
    _running = exchange;
    std::shared_ptr<Connection> c = conn.shared_from_this();
    std::shared_ptr<HttpSession> self = shared_from_this();
    bool keepAlive = request.keepAlive() && !_peerDone;
    bool queued = _listener->pool.submit(match.entry->owner, [c, self, exchange, keepAlive] {
        self->runHandler(*exchange);
        std::string bytes =
            exchange->response.serialize(keepAlive, exchange->request.method() == "HEAD");
        exchange->request.dropBody();
        c->post([c, self, exchange, bytes = std::move(bytes)]() mutable {
            self->complete(*c, *exchange, std::move(bytes));
        });
    });
    if (!queued) {
        _busy = false;
        _running.reset();
        _listener->rejected.inc();
        exchange->response.error(503, "server busy");
        exchange->response.setHeader("Retry-After", "1");
        complete(conn, *exchange, exchange->response.serialize(keepAlive, false));
    }
}

void HttpSession::runHandler(Exchange& exchange) {
    try {
        exchange.entry->handler(exchange.request, exchange.response);
    } catch (const std::exception& e) {
        _listener->handlerErrors.inc();
        Poco::Logger::get("switchboard." + exchange.entry->owner)
            .error("%s %s failed: %s", exchange.request.method(), exchange.entry->pattern,
                   std::string(e.what()));
        if (!exchange.response.streamed()) {
            exchange.response.reset();
            exchange.response.error(500, "internal error");
        }
    }
}

void HttpSession::complete(Connection& conn, Exchange& exchange, std::string bytes) {
    bool resume = _busy;  // a handler thread answered: reading was paused for it
    _busy = false;
    _running.reset();
    if (exchange.entry != nullptr && exchange.entry->metrics) {
        exchange.entry->metrics->observe(exchange.response.status(), microsSince(exchange.started));
    }
    logAccess(exchange.request, exchange.response.status(), bytes.size(), exchange.started);
    if (_closed) {
        return;  // the client went away while its handler ran
    }
    release();
    _served = true;
    _timing = false;
    _continueSent = false;
    _since = std::chrono::steady_clock::now();
    conn.send(bytes);
    bool keepAlive =
        exchange.request.keepAlive() && !exchange.response.closeRequested() && !_peerDone;
    if (!keepAlive) {
        conn.closeAfterFlush(CloseReason::Server);
        return;
    }
    _parser.next();
    if (!_pending.empty()) {
        std::string pending;
        pending.swap(_pending);
        parse(conn, pending.data(), pending.size());
    }
    if (resume && !_busy && conn.protocol() == this) {
        conn.resumeReading();
    }
}

void HttpSession::logAccess(const ServedRequest& request, int status, std::size_t bytes,
                            SteadyTime started) {
    AccessLog* log = _listener->accessLog;
    if (log != nullptr && log->enabled()) {
        log->record(_listener->options.name, request.method(), request.path(), status, bytes,
                    microsSince(started), request.clientAddress());
    }
}

void HttpSession::upgrade(Connection& conn, const RouteEntry& route,
                          std::shared_ptr<Exchange> exchange) {
    const ServedRequest& request = exchange->request;
    const std::string* key = request.find("Sec-WebSocket-Key");
    const std::string* version = request.find("Sec-WebSocket-Version");
    bool valid = request.method() == "GET" && hasToken(request.find("Upgrade"), "websocket") &&
                 hasToken(request.find("Connection"), "upgrade") && key != nullptr &&
                 !key->empty() && version != nullptr && *version == "13";
    if (!valid) {
        if (route.metrics) {
            route.metrics->observe(400, 0);
        }
        refuse(conn, 400, "WebSocket upgrade required");
        return;
    }
    release();
    std::string switching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
        "Upgrade\r\nSec-WebSocket-Accept: " +
        webSocketAccept(*key) + "\r\n\r\n";
    logAccess(request, 101, switching.size(), exchange->started);
    conn.send(switching);
    if (route.metrics) {
        route.metrics->observe(101, 0);
    }
    const WebSocketLimits& limits = _listener->options.webSocket;
    auto session =
        std::make_shared<WebSocketSession>(conn.shared_from_this(), route.webSocket, limits);
    conn.setOwner(route.owner);
    conn.setMaxOutbound(limits.maxOutbound);
    conn.setWriteStall(limits.ioTimeout);
    // A WebSocket ends with the close handshake: once our close frame is out the socket goes,
    // and the plugin hears of it at once (no lingering read as after an HTTP error answer).
    conn.setLingerOnClose(false);
    conn.setProtocol(session);
    session->start(conn, request);
}

void HttpSession::onEof(Connection& conn) {
    _peerDone = true;
    if (_busy) {
        if (_running && _running->response.streamed()) {
            // A stream (Server-Sent Events) has no end for the client to wait for: it left.
            // Closing now makes the handler's next flush fail, so it returns its thread.
            conn.abort(CloseReason::PeerClosed);
        }
        return;  // the response goes out, then the connection closes
    }
    if (_parser.finish() == HttpRequestParser::Status::Error) {
        refuse(conn, _parser.errorStatus(), _parser.errorReason());
        return;
    }
    conn.abort(CloseReason::PeerClosed);
}

void HttpSession::onTick(Connection& conn, SteadyTime now) {
    if (_busy) {
        return;  // the handler's own time is not the client's fault
    }
    const ListenerOptions& o = _listener->options;
    if (_timing) {
        if (now - _since > o.requestTimeout) {
            refuse(conn, 408, "request timeout");
        }
        return;
    }
    auto idleLimit = _served ? o.keepAliveTimeout : o.requestTimeout;
    if (idleLimit.count() > 0 && now - _since > idleLimit) {
        conn.abort(CloseReason::Timeout);
    }
}

void HttpSession::onClosed(Connection&, CloseReason) {
    _closed = true;
    release();
    std::string().swap(_pending);
}

}  // namespace switchboard
