// Request and response of one exchange (see HttpExchange.h).
#include "net/HttpExchange.h"

#include <Poco/Net/HTTPResponse.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <cstdio>
#include <ctime>

#include "net/Reactor.h"

namespace switchboard {

namespace {

/// Bytes a streamed response may have waiting for a slow reader before the stream fails.
constexpr std::size_t kStreamQueueLimit = 1 << 20;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') {
            x = static_cast<char>(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = static_cast<char>(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

/// "Date: <IMF-fixdate>\r\n", formatted once a second per thread.
const std::string& dateLine() {
    thread_local std::time_t second = 0;
    thread_local std::string line;
    std::time_t now = std::time(nullptr);
    if (now != second) {
        second = now;
        std::tm tm{};
        gmtime_r(&now, &tm);
        char buffer[64];
        std::strftime(buffer, sizeof buffer, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        line = buffer;
    }
    return line;
}

void appendStatusLine(std::string& out, int status) {
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += Poco::Net::HTTPResponse::getReasonForStatus(
        static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    out += "\r\nServer: switchboard\r\n";
    out += dateLine();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ServedRequest

ServedRequest::ServedRequest(ParsedRequest&& parsed, std::string peerHost, bool secure,
                             std::shared_ptr<const TrustedProxies> proxies)
    : _parsed(std::move(parsed)),
      _peerHost(std::move(peerHost)),
      _secure(secure),
      _proxies(std::move(proxies)) {
    const std::string& target = _parsed.target;
    std::size_t q = target.find('?');
    if (q == std::string::npos) {
        _path = target;
    } else {
        _path = target.substr(0, q);
        _query = target.substr(q + 1);
    }
    if (_path.find('%') != std::string::npos) {
        std::string decoded;
        try {
            Poco::URI::decode(_path, decoded);
        } catch (const Poco::Exception&) {
            decoded = _path;  // a malformed escape stays as sent (and matches no route)
        }
        _path.swap(decoded);
    }
}

const std::string* ServedRequest::find(std::string_view name) const {
    for (const auto& [key, value] : _parsed.headers) {
        if (equalsIgnoreCase(key, name)) {
            return &value;
        }
    }
    return nullptr;
}

std::string ServedRequest::query(const std::string& name, const std::string& def) const {
    std::size_t pos = 0;
    while (pos <= _query.size()) {
        std::size_t end = _query.find('&', pos);
        if (end == std::string::npos) {
            end = _query.size();
        }
        std::size_t eq = _query.find('=', pos);
        std::string key, value;
        try {
            if (eq != std::string::npos && eq < end) {
                Poco::URI::decode(_query.substr(pos, eq - pos), key, true);
                Poco::URI::decode(_query.substr(eq + 1, end - eq - 1), value, true);
            } else {
                Poco::URI::decode(_query.substr(pos, end - pos), key, true);
            }
        } catch (const Poco::Exception&) {
            key.clear();  // a malformed escape names no parameter
        }
        if (key == name) {
            return value;
        }
        pos = end + 1;
    }
    return def;
}

std::string ServedRequest::header(const std::string& name, const std::string& def) const {
    const std::string* value = find(name);
    return value == nullptr ? def : std::string(trim(*value));
}

std::string ServedRequest::cookie(const std::string& name) const {
    for (const auto& [key, value] : _parsed.headers) {
        if (!equalsIgnoreCase(key, "Cookie")) {
            continue;
        }
        std::string_view rest = value;
        while (!rest.empty()) {
            std::size_t semi = rest.find(';');
            std::string_view pair = trim(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            std::size_t eq = pair.find('=');
            if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) {
                continue;
            }
            std::string_view v = trim(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                v = v.substr(1, v.size() - 2);
            }
            return std::string(v);
        }
    }
    return {};
}

std::string ServedRequest::param(const std::string& name) const {
    for (const auto& [key, value] : _params) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

std::string ServedRequest::clientAddress() const {
    if (_proxies == nullptr || _proxies->empty()) {
        return TrustedProxies::unmapped(_peerHost);
    }
    const std::string* forwarded = find("X-Forwarded-For");
    return _proxies->clientAddress(_peerHost, forwarded == nullptr ? "" : *forwarded);
}

// ---------------------------------------------------------------------------------------------
// ServedResponse

/// The body of a streamed response: chunked encoding written straight into the connection's
/// queue. It fails (and the handler's stream goes bad) once the connection is closed or the
/// reader falls kStreamQueueLimit bytes behind.
class ServedResponse::ChunkBuffer : public std::streambuf {
public:
    explicit ChunkBuffer(std::shared_ptr<Connection> conn) : _conn(std::move(conn)) {
        setp(_buffer, _buffer + sizeof _buffer);
    }

protected:
    int_type overflow(int_type c) override {
        if (sync() != 0) {
            return traits_type::eof();
        }
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override {
        std::size_t n = static_cast<std::size_t>(pptr() - pbase());
        if (n == 0) {
            return _conn->open() ? 0 : -1;
        }
        setp(_buffer, _buffer + sizeof _buffer);
        if (_conn->queued() > kStreamQueueLimit) {
            _conn->abort(CloseReason::Overflow);
            return -1;
        }
        char size[24];
        int length = std::snprintf(size, sizeof size, "%zx\r\n", n);
        std::string chunk;
        chunk.reserve(n + 32);
        chunk.append(size, static_cast<std::size_t>(length));
        chunk.append(_buffer, n);
        chunk += "\r\n";
        return _conn->send(chunk) ? 0 : -1;
    }

private:
    std::shared_ptr<Connection> _conn;
    char _buffer[4096];
};

ServedResponse::ServedResponse(std::shared_ptr<Connection> conn) : _conn(std::move(conn)) {}

ServedResponse::~ServedResponse() = default;

void ServedResponse::setHeader(const std::string& name, const std::string& value) {
    for (auto& header : _headers) {
        if (equalsIgnoreCase(header.first, name)) {
            header.second = value;
            return;
        }
    }
    _headers.emplace_back(name, value);
}

void ServedResponse::addHeader(const std::string& name, const std::string& value) {
    _headers.emplace_back(name, value);
}

void ServedResponse::setBody(std::string body, const std::string& contentType) {
    _body = std::move(body);
    _contentType = contentType;
}

void ServedResponse::reset() {
    _status = 200;
    _body.clear();
    _contentType = "application/json";
    _headers.clear();
    _close = false;
}

std::ostream& ServedResponse::stream(const std::string& contentType) {
    if (_streamed) {
        return *_stream;
    }
    if (!_conn) {
        throw std::logic_error("this response cannot be streamed");
    }
    _streamed = true;
    std::string head;
    appendStatusLine(head, _status);
    head += "Content-Type: " + contentType + "\r\nTransfer-Encoding: chunked\r\n";
    for (const auto& [name, value] : _headers) {
        head += name + ": " + value + "\r\n";
    }
    head += "Connection: close\r\n\r\n";
    _chunks = std::make_unique<ChunkBuffer>(_conn);
    _stream = std::make_unique<std::ostream>(_chunks.get());
    if (!_conn->send(head)) {
        _stream->setstate(std::ios::badbit);
    }
    // Reading was paused for the handler; a stream's client sends nothing more, so read again
    // to see it leave (HttpSession closes a streaming connection at its end of input).
    _conn->post([conn = _conn] { conn->resumeReading(); });
    return *_stream;
}

std::string ServedResponse::serialize(bool keepAlive, bool headRequest) const {
    if (_streamed) {
        if (_stream) {
            _stream->flush();
        }
        return "0\r\n\r\n";
    }
    std::string out;
    out.reserve(160 + _body.size());
    appendStatusLine(out, _status);
    bool noBody = _status == 204 || _status == 304 || (_status >= 100 && _status < 200);
    if (!noBody) {
        if (!_body.empty()) {
            out += "Content-Type: ";
            out += _contentType;
            out += "\r\n";
        }
        out += "Content-Length: ";
        out += std::to_string(_body.size());
        out += "\r\n";
    }
    for (const auto& [name, value] : _headers) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    if (!keepAlive || _close) {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    if (!headRequest && !noBody) {
        out += _body;
    }
    return out;
}

std::string errorResponse(int status, std::string_view message, bool close, int retryAfter) {
    ServedResponse response;
    response.error(status, message);
    if (retryAfter > 0) {
        response.setHeader("Retry-After", std::to_string(retryAfter));
    }
    return response.serialize(!close, false);
}

}  // namespace switchboard
