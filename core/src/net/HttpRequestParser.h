// Reading HTTP/1.1 requests from the bytes of one connection, as they arrive in any split, with
// Debian's http-parser (nodejs/http-parser 2.9) doing the framing: strict RFC 9112 bodies (one
// valid Content-Length, well-formed chunks, no Content-Length beside Transfer-Encoding), and
// our limits on head size, header count and body size checked before the bytes are kept.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// One request as read off the wire.
struct ParsedRequest {
    std::string method;  ///< "GET", "POST", ...
    std::string target;  ///< request target as sent: path and query
    std::vector<std::pair<std::string, std::string>> headers;  ///< in order, names as sent
    std::string body;                                          ///< de-chunked
    bool keepAlive = true;  ///< the connection may carry another request after this one
    bool upgrade = false;   ///< an Upgrade request (WebSocket): the bytes after it are not HTTP
};

/// One per connection, reused for each request on it. Not thread-safe (a connection is served
/// by one loop at a time).
class HttpRequestParser {
public:
    struct Limits {
        std::size_t maxHead = 64 * 1024;        ///< request line and headers (431 beyond)
        std::size_t maxHeaders = 100;           ///< header lines (431 beyond)
        std::size_t maxBody = 4 * 1024 * 1024;  ///< body bytes (413 beyond, told before reading)
    };

    enum class Status {
        NeedMore,  ///< everything given was consumed; the request is not complete yet
        Complete,  ///< request() holds a whole request
        Error,     ///< the bytes are not an acceptable request: answer errorStatus(), then close
    };

    explicit HttpRequestParser(const Limits& limits);
    HttpRequestParser(const HttpRequestParser&) = delete;
    HttpRequestParser& operator=(const HttpRequestParser&) = delete;

    /// Parses from `data`, stopping at the end of one request. `consumed` is how many bytes
    /// were used: on Complete the rest belongs to the next request (pipelining) or, after an
    /// upgrade, to the new protocol. After Complete call next() before feeding more.
    Status feed(const char* data, std::size_t size, std::size_t& consumed);
    /// The peer closed its side. Error (400 "request ended early") if a request was partly
    /// read, NeedMore if the connection was between requests.
    Status finish();
    /// Forgets the completed request and gets ready for the next one.
    void next();

    /// True once any byte of the current request arrived (a deadline may be running).
    bool started() const { return _started; }
    /// The declared body length of the current request once its head is read (0 if none).
    std::size_t declaredLength() const { return _declared; }
    /// True once the current request's head is complete.
    bool headComplete() const { return _headComplete; }

    ParsedRequest& request() { return _request; }
    /// 400, 413, 431 or 501 after Error.
    int errorStatus() const { return _errorStatus; }
    /// What was wrong, for the error body ("Content-Length is not valid", ...).
    const std::string& errorReason() const { return _errorReason; }

private:
    static int onMessageBegin(http_parser* p);
    static int onUrl(http_parser* p, const char* at, std::size_t length);
    static int onHeaderField(http_parser* p, const char* at, std::size_t length);
    static int onHeaderValue(http_parser* p, const char* at, std::size_t length);
    static int onHeadersComplete(http_parser* p);
    static int onBody(http_parser* p, const char* at, std::size_t length);
    static int onMessageComplete(http_parser* p);

    /// Counts head bytes; false (431 set) past the limit.
    bool countHead(std::size_t length);
    Status fail(int status, std::string reason);
    /// 413 naming the limit.
    void bodyTooLarge();
    /// Our status and message for one of http-parser's errors.
    void translate(http_errno error);

    const Limits _limits;
    http_parser _parser;
    http_parser_settings _settings;
    ParsedRequest _request;
    std::size_t _headBytes = 0;
    std::size_t _declared = 0;
    bool _started = false;
    bool _headComplete = false;
    bool _complete = false;
    bool _inValue = false;  ///< the last header callback was a value (a new field starts a line)
    int _errorStatus = 0;
    std::string _errorReason;
};

}  // namespace switchboard
