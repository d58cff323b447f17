// The host's implementations of the plugin-facing HttpRequest/HttpResponse over POCO's server
// request and response. One pair lives on the stack of each request.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>
#include <utility>
#include <vector>

#include "net/Router.h"
#include "net/TrustedProxies.h"
#include "switchboard/Http.h"

namespace switchboard {

class PocoHttpRequest : public HttpRequest {
public:
    PocoHttpRequest(Poco::Net::HTTPServerRequest& request, std::string path, std::string query,
                    bool secure, const TrustedProxies* proxies = nullptr)
        : _request(request),
          _path(std::move(path)),
          _query(std::move(query)),
          _secure(secure),
          _proxies(proxies) {}

    const std::string& method() const override { return _request.getMethod(); }
    const std::string& path() const override { return _path; }
    std::string query(const std::string& name, const std::string& def) const override;
    std::string header(const std::string& name, const std::string& def) const override;
    std::string cookie(const std::string& name) const override;
    std::string param(const std::string& name) const override;
    const std::string& body() const override { return _body; }
    std::string peerHost() const override;
    std::string clientAddress() const override;
    bool secure() const override { return _secure; }

    std::string& mutableBody() { return _body; }
    RouteParams& params() { return _params; }

private:
    Poco::Net::HTTPServerRequest& _request;
    std::string _path;
    std::string _query;
    bool _secure;
    const TrustedProxies* _proxies;
    std::string _body;
    RouteParams _params;
};

class PocoHttpResponse : public HttpResponse {
public:
    explicit PocoHttpResponse(Poco::Net::HTTPServerResponse& response) : _response(response) {}

    void setStatus(int status) override { _status = status; }
    void setHeader(const std::string& name, const std::string& value) override;
    void addHeader(const std::string& name, const std::string& value) override;
    void setBody(std::string body, const std::string& contentType) override;
    void closeAfter() override { _close = true; }
    std::ostream& stream(const std::string& contentType) override;

    /// Forgets everything set so far (used when a handler threw half-way).
    void reset();
    int status() const { return _status; }
    bool streamed() const { return _streamed; }
    /// Sends status, headers and body with Content-Length (unless stream() was used).
    void send(bool keepAlive);

private:
    Poco::Net::HTTPServerResponse& _response;
    int _status = 200;
    std::string _body;
    std::string _contentType = "application/json";
    std::vector<std::pair<std::string, std::string>> _headers;
    bool _close = false;
    bool _streamed = false;
};

}  // namespace switchboard
