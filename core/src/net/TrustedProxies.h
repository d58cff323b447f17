// Which peers may name the client address in X-Forwarded-For: a list of IPv4/IPv6 addresses and
// CIDR blocks from the config, and the rule that picks the client address of a request.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

class TrustedProxies {
public:
    /// Adds "192.0.2.1", "10.0.0.0/8", "::1" or "fd00::/8". False with `error` set if malformed.
    bool add(const std::string& spec, std::string& error);
    bool empty() const { return _blocks.empty(); }
    /// True if `address` (textual IPv4/IPv6) lies in one of the blocks.
    bool contains(std::string_view address) const;

    /// The client address of a request from `peer`: the peer itself unless it is trusted; then
    /// X-Forwarded-For is walked from the right, skipping trusted proxies, and the first other
    /// address is the client (the left-most entry if all are trusted). A malformed entry stops
    /// the walk at the last good hop.
    std::string clientAddress(const std::string& peer, const std::string& forwardedFor) const;

    /// "::ffff:192.0.2.1" -> "192.0.2.1"; other addresses unchanged.
    static std::string unmapped(const std::string& address);

private:
    struct Block {
        std::array<std::uint8_t, 16> bytes{};
        int family = 0;  ///< 4 or 6
        int prefix = 0;  ///< bits
    };
    static bool parse(std::string_view text, Block& out);
    std::vector<Block> _blocks;
};

}  // namespace switchboard
