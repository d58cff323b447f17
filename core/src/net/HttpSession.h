// HTTP/1.1 on one connection: requests framed by HttpRequestParser as bytes arrive, each handed
// to its route's handler on the listener's threads (or run on the loop for a route that never
// blocks), responses queued in order (pipelining), keep-alive, the request deadline and the
// body budget, and the upgrade of a WebSocket route's request to a WebSocketSession.
#pragma once

#include <memory>
#include <string>

#include "net/HttpRequestParser.h"
#include "net/Reactor.h"

namespace switchboard {

struct HttpListenerState;
struct RouteEntry;
class ServedRequest;
class ServedResponse;

class HttpSession : public Protocol, public std::enable_shared_from_this<HttpSession> {
public:
    explicit HttpSession(std::shared_ptr<HttpListenerState> listener);
    ~HttpSession() override;

    void onOpen(Connection& conn) override;
    void onBytes(Connection& conn, const char* data, std::size_t size) override;
    void onEof(Connection& conn) override;
    void onTick(Connection& conn, SteadyTime now) override;
    void onClosed(Connection& conn, CloseReason reason) override;

    const HttpListenerState* listener() const { return _listener.get(); }

private:
    struct Exchange;

    void parse(Connection& conn, const char* data, std::size_t size);
    /// Charges the body bytes held now against the budget; false (503 sent) if it is spent.
    bool charge(Connection& conn);
    void release();
    void dispatch(Connection& conn);
    void runHandler(Exchange& exchange);
    /// The handler is done: queue its response and go on with the next request.
    void complete(Connection& conn, Exchange& exchange, std::string bytes);
    /// Answers `status` {"error": message} and closes.
    void refuse(Connection& conn, int status, const std::string& message, int retryAfter = 0);
    void upgrade(Connection& conn, const RouteEntry& route, std::shared_ptr<Exchange> exchange);
    /// One line in the access log, if it is on.
    void logAccess(const ServedRequest& request, int status, std::size_t bytes, SteadyTime started);

    std::shared_ptr<HttpListenerState> _listener;
    HttpRequestParser _parser;
    std::string _pending;  ///< bytes that arrived behind a request whose handler still runs
    SteadyTime _since{};   ///< when the current request began, or the connection went idle
    std::size_t _charged = 0;
    bool _timing = false;                ///< a request is being received (the deadline runs)
    bool _busy = false;                  ///< a handler runs for this connection
    std::shared_ptr<Exchange> _running;  ///< the exchange whose handler runs (loop thread)
    bool _served = false;                ///< a response was sent (idle time is keep-alive time now)
    bool _peerDone = false;
    bool _closed = false;
    bool _continueSent = false;
};

}  // namespace switchboard
