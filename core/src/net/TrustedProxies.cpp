// Trusted proxy blocks and X-Forwarded-For resolution (see TrustedProxies.h).
#include "net/TrustedProxies.h"

#include <arpa/inet.h>

#include <cstring>

namespace switchboard {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace

bool TrustedProxies::parse(std::string_view text, Block& out) {
    if (text.empty() || text.size() > 45) {
        return false;
    }
    char buffer[46];
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    if (inet_pton(AF_INET, buffer, out.bytes.data()) == 1) {
        out.family = 4;
        out.prefix = 32;
        return true;
    }
    if (inet_pton(AF_INET6, buffer, out.bytes.data()) == 1) {
        static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out.bytes.data(), kMapped, sizeof kMapped) == 0) {
            std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);  // IPv4-mapped
            std::memset(out.bytes.data() + 4, 0, 12);
            out.family = 4;
            out.prefix = 32;
            return true;
        }
        out.family = 6;
        out.prefix = 128;
        return true;
    }
    return false;
}

bool TrustedProxies::add(const std::string& spec, std::string& error) {
    std::string_view text = trim(spec);
    std::string_view address = text;
    int prefix = -1;
    if (std::size_t slash = text.find('/'); slash != std::string_view::npos) {
        address = text.substr(0, slash);
        std::string_view bits = text.substr(slash + 1);
        if (bits.empty() || bits.size() > 3 ||
            bits.find_first_not_of("0123456789") != std::string_view::npos) {
            error = "'" + spec + "' is not an IP address or CIDR block";
            return false;
        }
        prefix = std::stoi(std::string(bits));
    }
    Block block;
    if (!parse(address, block)) {
        error = "'" + spec + "' is not an IP address or CIDR block";
        return false;
    }
    if (prefix >= 0) {
        if (prefix > block.prefix) {
            error = "'" + spec + "': prefix longer than the address";
            return false;
        }
        block.prefix = prefix;
    }
    _blocks.push_back(block);
    return true;
}

bool TrustedProxies::contains(std::string_view address) const {
    if (_blocks.empty()) {
        return false;
    }
    Block candidate;
    if (!parse(trim(address), candidate)) {
        return false;
    }
    for (const Block& block : _blocks) {
        if (block.family != candidate.family) {
            continue;
        }
        int full = block.prefix / 8;
        int rest = block.prefix % 8;
        if (std::memcmp(block.bytes.data(), candidate.bytes.data(), full) != 0) {
            continue;
        }
        if (rest != 0) {
            auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
            if ((block.bytes[full] & mask) != (candidate.bytes[full] & mask)) {
                continue;
            }
        }
        return true;
    }
    return false;
}

std::string TrustedProxies::unmapped(const std::string& address) {
    if (address.size() > 7 && address.compare(0, 7, "::ffff:") == 0 &&
        address.find('.') != std::string::npos) {
        return address.substr(7);
    }
    return address;
}

std::string TrustedProxies::clientAddress(const std::string& peer,
                                          const std::string& forwardedFor) const {
    std::string client = unmapped(peer);
    if (forwardedFor.empty() || !contains(client)) {
        return client;
    }
    std::string_view rest(forwardedFor);
    while (!rest.empty()) {
        std::size_t comma = rest.rfind(',');
        std::string_view hop =
            trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
        Block parsed;
        if (!parse(hop, parsed)) {
            break;  // garbage: keep the last hop we could vouch for
        }
        client = unmapped(std::string(hop));
        if (!contains(client)) {
            break;
        }
    }
    return client;
}

}  // namespace switchboard
