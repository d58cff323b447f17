// The operator CLI's connection to the admin API: one HTTP request per call over POCO's
// HTTPClientSession with the bearer token, and the Server-Sent Events stream.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace switchboard::ctl {

/// The admin API could not be reached (connection refused, timeout, name not resolved).
class Unreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct AdminResponse {
    int status = 0;
    std::string body;
};

class AdminClient {
public:
    /// `url`: http://host:port (a path after it is ignored). Throws std::invalid_argument when
    /// it is not one.
    AdminClient(const std::string& url, std::string token);
    /// One request; throws Unreachable.
    AdminResponse call(const std::string& method, const std::string& path,
                       const std::string& body = "") const;
    /// GET `path` as an event stream: calls `onEvent(topic, data)` per event until it returns
    /// false or the server ends the stream. Returns the status (200 when it streamed). Throws
    /// Unreachable.
    int stream(const std::string& path,
               const std::function<bool(const std::string&, const std::string&)>& onEvent,
               std::string& errorBody) const;
    const std::string& url() const { return _url; }

private:
    std::string _url;
    std::string _host;
    unsigned short _port = 0;
    std::string _token;
};

}  // namespace switchboard::ctl
