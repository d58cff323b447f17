// The names the admin listener answers to: a request whose Host (or a console change whose
// Origin) names anything else is refused, so a DNS-rebinding page cannot reach the listener.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// Immutable once built; shared by the admin guard's threads.
class AdminHosts {
public:
    /// The listener's bind address (unless it is a wildcard such as 0.0.0.0 or ::), localhost,
    /// 127.0.0.1 and [::1], each bare or with `port`, plus `extra` entries (admin.allowed_hosts):
    /// "name" (bare or with `port`) or "name:port" (that port only). Names compare without case.
    AdminHosts(const std::string& bind, std::uint16_t port, const std::vector<std::string>& extra);

    /// True if `authority` (a Host header value, or the host[:port] of an Origin) is one of
    /// the names.
    bool allows(std::string_view authority) const;
    /// True if `origin` ("http://name:port" or "https://...", as a browser sends it) names one
    /// of the names.
    bool allowsOrigin(std::string_view origin) const;

    /// Checks an admin.allowed_hosts entry: a host name, an IPv4 address or a bracketed IPv6
    /// address, optionally ":port". Returns "" or the problem.
    static std::string entryProblem(const std::string& entry);

private:
    struct Name {
        std::string host;        ///< lower case; IPv6 with its brackets
        std::uint32_t port = 0;  ///< 0: bare or the listener's port
    };
    /// Splits "host[:port]"; false if it is not of that form (port 0 when absent).
    static bool split(std::string_view authority, std::string& host, std::uint32_t& port);

    std::uint16_t _port;
    std::vector<Name> _names;
};

}  // namespace switchboard
