// Host and Origin checks of the admin listener (see AdminHosts.h).
#include "admin/AdminHosts.h"

#include <Poco/Net/IPAddress.h>

namespace switchboard {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

bool isWildcard(const std::string& bind) {
    try {
        return Poco::Net::IPAddress(bind).isWildcard();
    } catch (const Poco::Exception&) {
        return false;  // a host name
    }
}

bool validHostName(std::string_view host) {
    if (host.empty() || host.size() > 253) {
        return false;
    }
    for (char c : host) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

AdminHosts::AdminHosts(const std::string& bind, std::uint16_t port,
                       const std::vector<std::string>& extra)
    : _port(port) {
    std::vector<std::string> names = {"localhost", "127.0.0.1", "[::1]"};
    if (!bind.empty() && !isWildcard(bind)) {
        names.push_back(bind.find(':') != std::string::npos ? "[" + bind + "]" : bind);
    }
    names.insert(names.end(), extra.begin(), extra.end());
    for (const auto& entry : names) {
        Name name;
        if (split(entry, name.host, name.port)) {
            _names.push_back(std::move(name));
        }
    }
}

bool AdminHosts::split(std::string_view authority, std::string& host, std::uint32_t& port) {
    std::string text = lower(authority);
    std::size_t colon = std::string::npos;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string::npos) {
            return false;
        }
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') {
                return false;
            }
            colon = close + 1;
        }
        host = text.substr(0, close + 1);
        try {
            Poco::Net::IPAddress address(host.substr(1, host.size() - 2));
            if (address.family() != Poco::Net::IPAddress::IPv6) {
                return false;
            }
        } catch (const Poco::Exception&) {
            return false;
        }
    } else {
        colon = text.find(':');
        host = text.substr(0, colon);
        if (!validHostName(host)) {
            return false;
        }
    }
    port = 0;
    if (colon == std::string::npos) {
        return true;
    }
    std::string digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5) {
        return false;
    }
    for (char c : digits) {
        if (c < '0' || c > '9') {
            return false;
        }
        port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return port >= 1 && port <= 65535;
}

bool AdminHosts::allows(std::string_view authority) const {
    std::string host;
    std::uint32_t port = 0;
    if (!split(authority, host, port)) {
        return false;
    }
    for (const Name& name : _names) {
        if (name.host != host) {
            continue;
        }
        bool portMatches = name.port == 0 ? (port == 0 || port == _port) : port == name.port;
        if (portMatches) {
            return true;
        }
    }
    return false;
}

bool AdminHosts::allowsOrigin(std::string_view origin) const {
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (origin.size() > scheme.size() && lower(origin.substr(0, scheme.size())) == scheme) {
            return allows(origin.substr(scheme.size()));
        }
    }
    return false;  // "null", another scheme, or nothing
}

std::string AdminHosts::entryProblem(const std::string& entry) {
    std::string host;
    std::uint32_t port = 0;
    if (!split(entry, host, port)) {
        return "'" + entry +
               "' is not a host name, IPv4 address or [IPv6] address with an optional :port";
    }
    return {};
}

}  // namespace switchboard
