// The host's implementations of the plugin-facing HttpRequest/HttpResponse: a request read off
// the wire by HttpRequestParser, and a response serialised into the bytes the connection sends.
#pragma once

#include <atomic>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "net/HttpRequestParser.h"
#include "net/Router.h"
#include "net/TrustedProxies.h"
#include "switchboard/Http.h"

namespace switchboard {

class Connection;

class ServedRequest : public HttpRequest {
public:
    /// Takes the parsed request; splits its target into a decoded path and the query.
    ServedRequest(ParsedRequest&& parsed, std::string peerHost, bool secure,
                  std::shared_ptr<const TrustedProxies> proxies);

    const std::string& method() const override { return _parsed.method; }
    const std::string& path() const override { return _path; }
    std::string query(const std::string& name, const std::string& def) const override;
    std::string header(const std::string& name, const std::string& def) const override;
    std::string cookie(const std::string& name) const override;
    std::string param(const std::string& name) const override;
    const std::string& body() const override { return _parsed.body; }
    std::string peerHost() const override { return _peerHost; }
    std::string clientAddress() const override;
    bool secure() const override { return _secure; }

    /// The value of header `name` (case-insensitive), or nullptr.
    const std::string* find(std::string_view name) const;
    bool keepAlive() const { return _parsed.keepAlive && !_parsed.upgrade; }
    RouteParams& params() { return _params; }
    /// Gives the body's memory back (once the handler is done with it).
    void dropBody() { std::string().swap(_parsed.body); }

private:
    ParsedRequest _parsed;
    std::string _path;
    std::string _query;
    std::string _peerHost;
    bool _secure;
    std::shared_ptr<const TrustedProxies> _proxies;
    RouteParams _params;
};

class ServedResponse : public HttpResponse {
public:
    /// `conn` is where stream() writes (nullptr: streaming is refused).
    explicit ServedResponse(std::shared_ptr<Connection> conn = nullptr);
    ~ServedResponse() override;

    void setStatus(int status) override { _status = status; }
    void setHeader(const std::string& name, const std::string& value) override;
    void addHeader(const std::string& name, const std::string& value) override;
    void setBody(std::string body, const std::string& contentType) override;
    void closeAfter() override { _close = true; }
    std::ostream& stream(const std::string& contentType) override;

    /// Forgets everything set so far (used when a handler threw half-way).
    void reset();
    int status() const { return _status; }
    /// Read by the connection's loop while a handler thread streams (so atomic).
    bool streamed() const { return _streamed.load(); }
    bool closeRequested() const { return _close || _streamed; }
    /// The bytes to send: status line, headers (Content-Length, Date, Server, Connection) and
    /// body; for a streamed response, the chunked body's end.
    std::string serialize(bool keepAlive, bool headRequest) const;

private:
    class ChunkBuffer;
    std::shared_ptr<Connection> _conn;
    int _status = 200;
    std::string _body;
    std::string _contentType = "application/json";
    std::vector<std::pair<std::string, std::string>> _headers;
    bool _close = false;
    std::atomic<bool> _streamed{false};
    std::unique_ptr<ChunkBuffer> _chunks;
    std::unique_ptr<std::ostream> _stream;
};

/// A complete answer (status line to body) with {"error": message}, for the host's own
/// refusals (400, 408, 413, 503...). `close` adds Connection: close; `retryAfter` > 0 adds
/// Retry-After.
std::string errorResponse(int status, std::string_view message, bool close, int retryAfter = 0);

}  // namespace switchboard
