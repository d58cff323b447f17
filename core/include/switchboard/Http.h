// HTTP routes as plugins declare them. The host owns sockets and threads: a plugin returns a
// table of routes and the host mounts them on the listener its config names.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "switchboard/RouteDoc.h"

namespace switchboard {

/// A request whose body has already been read in full (and capped) by the host.
class HttpRequest {
public:
    virtual ~HttpRequest() = default;
    virtual const std::string& method() const = 0;
    /// Path without the query string, e.g. "/api/devices/abc/online".
    virtual const std::string& path() const = 0;
    /// A query-string parameter (decoded), or `def`.
    virtual std::string query(const std::string& name, const std::string& def = {}) const = 0;
    /// A header (case-insensitive name), or `def`.
    virtual std::string header(const std::string& name, const std::string& def = {}) const = 0;
    /// A cookie value, or "".
    virtual std::string cookie(const std::string& name) const = 0;
    /// A `{name}` segment of the matched route path, or "".
    virtual std::string param(const std::string& name) const = 0;
    virtual const std::string& body() const = 0;
    /// IP address of the TCP peer (no port).
    virtual std::string peerHost() const = 0;
    /// The client's IP address: the TCP peer, or, when the peer is one of the trusted proxies
    /// (`server.trusted_proxies`), the client it names in X-Forwarded-For. Use this for rate
    /// limits and for recording where a client is.
    virtual std::string clientAddress() const = 0;
    /// True when the request arrived over TLS.
    virtual bool secure() const = 0;

    /// The token of an "Authorization: Bearer <token>" header (scheme in any case, token
    /// trimmed), or "" when there is none.
    std::string bearerToken() const;
};

/// The response a handler fills in; the host sends it (with Content-Length) when the handler
/// returns. Handlers must not throw: the host turns an escaped exception into a logged 500.
class HttpResponse {
public:
    virtual ~HttpResponse() = default;
    virtual void setStatus(int status) = 0;
    virtual void setHeader(const std::string& name, const std::string& value) = 0;
    /// Adds a header line even if one of that name exists (e.g. several Set-Cookie).
    virtual void addHeader(const std::string& name, const std::string& value) = 0;
    virtual void setBody(std::string body, const std::string& contentType = "application/json") = 0;
    /// Closes the connection after this response (no keep-alive).
    virtual void closeAfter() = 0;
    /// Sends the status and headers now and returns a stream for a long-lived body (e.g.
    /// Server-Sent Events). The handler owns the connection until it returns.
    virtual std::ostream& stream(const std::string& contentType) = 0;

    /// Sets status and a JSON body.
    void json(int status, std::string body) {
        setStatus(status);
        setBody(std::move(body));
    }
    /// Sets status and {"error": message}.
    void error(int status, std::string_view message);

    /// The one answer to a failing store: 503, `Retry-After: 1` (a busy or briefly unreachable
    /// store is the usual cause) and {"error": what}, where `what` names what could not be done
    /// ("cannot store the device"). Log the store's own error; never send it to the client.
    void storeUnavailable(std::string_view what);
    /// storeUnavailable with a JSON body of the API's own shape instead of {"error": ...} (the
    /// devices API answers {"ok": false, "message": ...}).
    void storeUnavailableBody(std::string body);
};

/// Seconds a client is asked to wait (Retry-After) after HttpResponse::storeUnavailable.
constexpr int kStoreRetryAfterSeconds = 1;

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

/// One route: method ("GET", "POST", ...) and a path that may hold `{name}` segments.
struct Route {
    std::string method;
    std::string path;
    HttpHandler handler;
    /// True for a handler that never blocks (no store, no hashing, no I/O; in-memory work of
    /// microseconds): it runs on the event loop, without a hand-off to a handler thread.
    bool nonBlocking = false;
    /// What the route does, takes and answers (RouteDoc.h): the source of the OpenAPI
    /// documents. Every route has one; a test fails for a mounted route without it.
    RouteDoc doc = {};
};

}  // namespace switchboard
