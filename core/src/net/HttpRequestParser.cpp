// HTTP/1.1 request framing on http-parser (see HttpRequestParser.h).
#include "net/HttpRequestParser.h"

#include <algorithm>
#include <cstring>

namespace switchboard {

namespace {
HttpRequestParser& self(http_parser* p) {
    return *static_cast<HttpRequestParser*>(p->data);
}
}  // namespace

HttpRequestParser::HttpRequestParser(const Limits& limits) : _limits(limits) {
    std::memset(&_settings, 0, sizeof _settings);
    _settings.on_message_begin = &HttpRequestParser::onMessageBegin;
    _settings.on_url = &HttpRequestParser::onUrl;
    _settings.on_header_field = &HttpRequestParser::onHeaderField;
    _settings.on_header_value = &HttpRequestParser::onHeaderValue;
    _settings.on_headers_complete = &HttpRequestParser::onHeadersComplete;
    _settings.on_body = &HttpRequestParser::onBody;
    _settings.on_message_complete = &HttpRequestParser::onMessageComplete;
    http_parser_init(&_parser, HTTP_REQUEST);
    _parser.data = this;
}

HttpRequestParser::Status HttpRequestParser::feed(const char* data, std::size_t size,
                                                  std::size_t& consumed) {
    consumed = 0;
    if (_errorStatus != 0) {
        return Status::Error;
    }
    if (size == 0) {
        return Status::NeedMore;  // a zero-length execute means end of stream to http-parser
    }
    consumed = http_parser_execute(&_parser, &_settings, data, size);
    http_errno error = HTTP_PARSER_ERRNO(&_parser);
    if (_complete) {
        // Paused at the end of the request (see onMessageComplete). An upgrade ends there too:
        // http-parser completes it after its body, if it declared one (found by
        // fuzz/http_request_fuzz: completing it at the head handed the handler part of the body
        // and framed the rest, split as it arrived, as a request of its own).
        return Status::Complete;
    }
    if (error != HPE_OK) {
        translate(error);
        return Status::Error;
    }
    return Status::NeedMore;
}

HttpRequestParser::Status HttpRequestParser::finish() {
    if (_errorStatus != 0) {
        return Status::Error;
    }
    if (!_started || _complete) {
        return Status::NeedMore;
    }
    if (!_headComplete) {
        return fail(400, "request head ended early");
    }
    return fail(400, _declared > 0 ? "request body shorter than its Content-Length"
                                   : "request body ended early");
}

void HttpRequestParser::next() {
    _request = ParsedRequest();
    _headBytes = 0;
    _declared = 0;
    _started = false;
    _headComplete = false;
    _complete = false;
    _inValue = false;
    if (HTTP_PARSER_ERRNO(&_parser) == HPE_PAUSED) {
        http_parser_pause(&_parser, 0);
    }
}

int HttpRequestParser::onMessageBegin(http_parser* p) {
    self(p)._started = true;
    return 0;
}

bool HttpRequestParser::countHead(std::size_t length) {
    _headBytes += length;
    if (_headBytes > _limits.maxHead) {
        fail(431, "request head is larger than " + std::to_string(_limits.maxHead) + " bytes");
        return false;
    }
    return true;
}

int HttpRequestParser::onUrl(http_parser* p, const char* at, std::size_t length) {
    HttpRequestParser& s = self(p);
    if (!s.countHead(length)) {
        return -1;
    }
    s._request.target.append(at, length);
    return 0;
}

int HttpRequestParser::onHeaderField(http_parser* p, const char* at, std::size_t length) {
    HttpRequestParser& s = self(p);
    if (!s.countHead(length)) {
        return -1;
    }
    auto& headers = s._request.headers;
    if (headers.empty() || s._inValue) {
        if (headers.size() >= s._limits.maxHeaders) {
            s.fail(431, "more than " + std::to_string(s._limits.maxHeaders) + " header lines");
            return -1;
        }
        headers.emplace_back();
        s._inValue = false;
    }
    headers.back().first.append(at, length);
    return 0;
}

int HttpRequestParser::onHeaderValue(http_parser* p, const char* at, std::size_t length) {
    HttpRequestParser& s = self(p);
    if (!s.countHead(length)) {
        return -1;
    }
    s._inValue = true;
    s._request.headers.back().second.append(at, length);
    return 0;
}

int HttpRequestParser::onHeadersComplete(http_parser* p) {
    HttpRequestParser& s = self(p);
    s._headComplete = true;
    s._request.method = http_method_str(static_cast<http_method>(p->method));
    s._request.keepAlive = http_should_keep_alive(p) != 0;
    s._request.upgrade = p->upgrade != 0;
    if ((p->flags & F_CONTENTLENGTH) != 0) {
        if (p->content_length > s._limits.maxBody) {
            // Refused on the declared length, before any body byte is kept.
            s.bodyTooLarge();
            return -1;
        }
        s._declared = static_cast<std::size_t>(p->content_length);
        // Reserve only what a small body needs: a client declaring max_body and sending nothing
        // must not get that memory for free.
        s._request.body.reserve(std::min<std::size_t>(s._declared, 64 * 1024));
    }
    return 0;
}

int HttpRequestParser::onBody(http_parser* p, const char* at, std::size_t length) {
    HttpRequestParser& s = self(p);
    if (s._request.body.size() + length > s._limits.maxBody) {  // chunked bodies grow as read
        s.bodyTooLarge();
        return -1;
    }
    s._request.body.append(at, length);
    return 0;
}

int HttpRequestParser::onMessageComplete(http_parser* p) {
    HttpRequestParser& s = self(p);
    s._complete = true;
    // Stop here: the next pipelined request waits until this one is answered.
    http_parser_pause(p, 1);
    return 0;
}

void HttpRequestParser::bodyTooLarge() {
    fail(413, "request body too large (limit " + std::to_string(_limits.maxBody) + " bytes)");
}

HttpRequestParser::Status HttpRequestParser::fail(int status, std::string reason) {
    if (_errorStatus == 0) {
        _errorStatus = status;
        _errorReason = std::move(reason);
    }
    return Status::Error;
}

void HttpRequestParser::translate(http_errno error) {
    switch (error) {
        case HPE_INVALID_CONTENT_LENGTH:
            fail(400, "Content-Length is not a valid length");
            return;
        case HPE_UNEXPECTED_CONTENT_LENGTH:
            fail(400, "Content-Length must appear once and not with Transfer-Encoding");
            return;
        case HPE_INVALID_CHUNK_SIZE:
            fail(400, "invalid chunk size in chunked body");
            return;
        case HPE_INVALID_TRANSFER_ENCODING:
            fail(501, "Transfer-Encoding other than chunked is not supported");
            return;
        case HPE_HEADER_OVERFLOW:
            fail(431, "request head is too large");
            return;
        case HPE_INVALID_METHOD:
            fail(400, "invalid request method");
            return;
        case HPE_INVALID_VERSION:
            fail(400, "invalid HTTP version");
            return;
        case HPE_INVALID_URL:
        case HPE_INVALID_PATH:
        case HPE_INVALID_QUERY_STRING:
        case HPE_INVALID_FRAGMENT:
            fail(400, "invalid request target");
            return;
        default:
            // Our callbacks' own failures set the status before returning -1.
            fail(400, std::string("malformed request: ") + http_errno_description(error));
            return;
    }
}

}  // namespace switchboard
