// Request and response wrappers (see HttpExchange.h).
#include "net/HttpExchange.h"

#include <Poco/Net/NameValueCollection.h>
#include <Poco/URI.h>

namespace switchboard {

std::string PocoHttpRequest::query(const std::string& name, const std::string& def) const {
    std::size_t pos = 0;
    while (pos <= _query.size()) {
        std::size_t end = _query.find('&', pos);
        if (end == std::string::npos) {
            end = _query.size();
        }
        std::size_t eq = _query.find('=', pos);
        std::string key, value;
        if (eq != std::string::npos && eq < end) {
            Poco::URI::decode(_query.substr(pos, eq - pos), key, true);
            Poco::URI::decode(_query.substr(eq + 1, end - eq - 1), value, true);
        } else {
            Poco::URI::decode(_query.substr(pos, end - pos), key, true);
        }
        if (key == name) {
            return value;
        }
        pos = end + 1;
    }
    return def;
}

std::string PocoHttpRequest::header(const std::string& name, const std::string& def) const {
    return _request.get(name, def);
}

std::string PocoHttpRequest::cookie(const std::string& name) const {
    Poco::Net::NameValueCollection cookies;
    _request.getCookies(cookies);
    return cookies.get(name, "");
}

std::string PocoHttpRequest::param(const std::string& name) const {
    for (const auto& [key, value] : _params) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

std::string PocoHttpRequest::peerHost() const {
    return _request.clientAddress().host().toString();
}

std::string PocoHttpRequest::clientAddress() const {
    if (_proxies == nullptr || _proxies->empty()) {
        return TrustedProxies::unmapped(peerHost());
    }
    return _proxies->clientAddress(peerHost(), _request.get("X-Forwarded-For", ""));
}

void PocoHttpResponse::setHeader(const std::string& name, const std::string& value) {
    for (auto& header : _headers) {
        if (Poco::icompare(header.first, name) == 0) {
            header.second = value;
            return;
        }
    }
    _headers.emplace_back(name, value);
}

void PocoHttpResponse::addHeader(const std::string& name, const std::string& value) {
    _headers.emplace_back(name, value);
}

void PocoHttpResponse::setBody(std::string body, const std::string& contentType) {
    _body = std::move(body);
    _contentType = contentType;
}

void PocoHttpResponse::reset() {
    _status = 200;
    _body.clear();
    _contentType = "application/json";
    _headers.clear();
    _close = false;
}

std::ostream& PocoHttpResponse::stream(const std::string& contentType) {
    _streamed = true;
    _response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(_status));
    _response.setContentType(contentType);
    _response.setChunkedTransferEncoding(true);
    _response.setKeepAlive(false);
    for (const auto& [name, value] : _headers) {
        _response.add(name, value);
    }
    return _response.send();
}

void PocoHttpResponse::send(bool keepAlive) {
    if (_streamed) {
        return;
    }
    _response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(_status));
    if (!_body.empty()) {
        _response.setContentType(_contentType);
    }
    for (const auto& [name, value] : _headers) {
        _response.add(name, value);
    }
    _response.setKeepAlive(keepAlive && !_close);
    _response.sendBuffer(_body.data(), _body.size());
}

}  // namespace switchboard
