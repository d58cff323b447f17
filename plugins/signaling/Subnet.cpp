// IPv4 subnet parsing (see Subnet.h).
#include "Subnet.h"

namespace switchboard::signaling {

namespace {

constexpr int kMinPrefix = 8;
constexpr int kMaxPrefix = 30;
constexpr const char* kShape = "subnet must be an IPv4 CIDR like 10.0.0.0/24";

}  // namespace

std::optional<std::uint32_t> parseAddress(std::string_view text) {
    std::uint32_t address = 0;
    int parts = 0;
    std::size_t i = 0;
    while (parts < 4) {
        std::size_t start = i;
        std::uint32_t part = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
            part = part * 10 + static_cast<std::uint32_t>(text[i] - '0');
            ++i;
        }
        std::size_t digits = i - start;
        if (digits == 0 || part > 255 || (digits > 1 && text[start] == '0')) {
            return std::nullopt;
        }
        address = (address << 8) | part;
        ++parts;
        if (parts < 4) {
            if (i >= text.size() || text[i] != '.') {
                return std::nullopt;
            }
            ++i;
        }
    }
    if (i != text.size()) {
        return std::nullopt;
    }
    return address;
}

std::string addressText(std::uint32_t address) {
    return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
           std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Subnet::text() const {
    return addressText(network) + "/" + std::to_string(prefix);
}

std::optional<Subnet> Subnet::parse(std::string_view text, std::string& error) {
    if (text.empty()) {
        error = "subnet must not be empty";
        return std::nullopt;
    }
    if (text.find(':') != std::string_view::npos) {
        error = std::string(kShape) + ", not IPv6";
        return std::nullopt;
    }
    std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) {
        error = std::string(kShape) + " (the /prefix is missing)";
        return std::nullopt;
    }
    auto address = parseAddress(text.substr(0, slash));
    if (!address) {
        error = std::string(kShape) + " (the address is not a dotted quad)";
        return std::nullopt;
    }
    std::string_view digits = text.substr(slash + 1);
    int prefix = 0;
    if (digits.empty() || digits.size() > 2 || (digits.size() > 1 && digits[0] == '0')) {
        error = std::string(kShape) + " (the prefix is not a number from 8 to 30)";
        return std::nullopt;
    }
    for (char c : digits) {
        if (c < '0' || c > '9') {
            error = std::string(kShape) + " (the prefix is not a number from 8 to 30)";
            return std::nullopt;
        }
        prefix = prefix * 10 + (c - '0');
    }
    if (prefix < kMinPrefix || prefix > kMaxPrefix) {
        error = "subnet prefix must be between /8 and /30, got /" + std::to_string(prefix);
        return std::nullopt;
    }
    Subnet s;
    s.prefix = prefix;
    s.network = *address & s.mask();
    if (s.network != *address) {
        error =
            "subnet " + std::string(text) + " has host bits set (the network is " + s.text() + ")";
        return std::nullopt;
    }
    return s;
}

}  // namespace switchboard::signaling
