// IPv4 subnets of organizations: parsing a CIDR as the seed's clients write it, host ranges and
// address text. Pure functions, no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::signaling {

/// An IPv4 network: `network` has no host bits set; prefix is 8..30.
struct Subnet {
    std::uint32_t network = 0;
    int prefix = 0;

    /// Parses "10.0.0.0/24". On failure returns nullopt and sets `error` to a message naming
    /// the problem ("subnet 10.0.0.1/24 has host bits set (the network is 10.0.0.0/24)",
    /// "subnet must be an IPv4 CIDR like 10.0.0.0/24, not IPv6", "subnet prefix must be
    /// between /8 and /30", ...).
    static std::optional<Subnet> parse(std::string_view text, std::string& error);

    std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
    /// The lowest and highest host addresses (network and broadcast excluded).
    std::uint32_t firstHost() const { return network + 1; }
    std::uint32_t lastHost() const { return (network | ~mask()) - 1; }
    /// Number of host addresses.
    std::uint64_t hostCount() const { return std::uint64_t{lastHost()} - firstHost() + 1; }
    bool contains(std::uint32_t address) const { return (address & mask()) == network; }
    /// "10.0.0.0/24"
    std::string text() const;
};

/// Dotted-quad text of an address.
std::string addressText(std::uint32_t address);

/// Parses a dotted quad strictly (four decimal parts 0-255, no leading zeros, nothing else).
std::optional<std::uint32_t> parseAddress(std::string_view text);

}  // namespace switchboard::signaling
