// The operator CLI's admin API client (see AdminClient.h).
#include "ctl/AdminClient.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <istream>
#include <ostream>

namespace switchboard::ctl {

namespace {

constexpr int kTimeoutSeconds = 30;

}  // namespace

AdminClient::AdminClient(const std::string& url, std::string token)
    : _url(url), _token(std::move(token)) {
    Poco::URI uri;
    try {
        uri = Poco::URI(url);
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument("--url " + url + ": " + e.displayText());
    }
    if (uri.getScheme() != "http" || uri.getHost().empty()) {
        throw std::invalid_argument("--url " + url +
                                    ": expected http://host:port (the admin listener; https is "
                                    "not supported, reach a TLS listener through a tunnel)");
    }
    _host = uri.getHost();
    _port = uri.getPort();
}

AdminResponse AdminClient::call(const std::string& method, const std::string& path,
                                const std::string& body) const {
    AdminResponse out;
    try {
        Poco::Net::HTTPClientSession session(_host, _port);
        session.setTimeout(Poco::Timespan(kTimeoutSeconds, 0));
        Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!_token.empty()) {
            request.set("Authorization", "Bearer " + _token);
        }
        if (!body.empty() || method == "POST") {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        std::ostream& os = session.sendRequest(request);
        os << body;
        Poco::Net::HTTPResponse response;
        std::istream& is = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(is, out.body);
        out.status = static_cast<int>(response.getStatus());
    } catch (const Poco::Net::NetException& e) {
        throw Unreachable(e.displayText());
    } catch (const Poco::TimeoutException& e) {
        throw Unreachable(e.displayText());
    } catch (const Poco::IOException& e) {
        throw Unreachable(e.displayText());
    }
    return out;
}

int AdminClient::stream(const std::string& path,
                        const std::function<bool(const std::string&, const std::string&)>& onEvent,
                        std::string& errorBody) const {
    try {
        Poco::Net::HTTPClientSession session(_host, _port);
        session.setTimeout(Poco::Timespan(kTimeoutSeconds, 0));
        Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + _token);
        request.set("Accept", "text/event-stream");
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::istream& is = session.receiveResponse(response);
        int status = static_cast<int>(response.getStatus());
        if (status != 200) {
            Poco::StreamCopier::copyToString(is, errorBody);
            return status;
        }
        // The server writes a comment every 15 s: a minute of silence means it has gone.
        session.socket().setReceiveTimeout(Poco::Timespan(60, 0));
        std::string line, topic, data;
        while (std::getline(is, line)) {
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (line.empty()) {
                if (!topic.empty() && !onEvent(topic, data)) {
                    return 200;
                }
                topic.clear();
                data.clear();
            } else if (line.rfind("event: ", 0) == 0) {
                topic = line.substr(7);
            } else if (line.rfind("data: ", 0) == 0) {
                data += (data.empty() ? "" : "\n") + line.substr(6);
            }
        }
        return 200;
    } catch (const Poco::Net::NetException& e) {
        throw Unreachable(e.displayText());
    } catch (const Poco::TimeoutException& e) {
        throw Unreachable(e.displayText());
    } catch (const Poco::IOException& e) {
        throw Unreachable(e.displayText());
    }
}

}  // namespace switchboard::ctl
