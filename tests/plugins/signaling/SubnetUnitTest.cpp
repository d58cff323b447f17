// Subnet: CIDR parsing (every refusal names its problem), host ranges and address text.
#include <gtest/gtest.h>

#include "Subnet.h"

using switchboard::signaling::addressText;
using switchboard::signaling::parseAddress;
using switchboard::signaling::Subnet;

TEST(SubnetUnitTest, ParsesAndComputesTheHostRange) {
    std::string error;
    auto s = Subnet::parse("10.0.0.0/24", error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->text(), "10.0.0.0/24");
    EXPECT_EQ(addressText(s->firstHost()), "10.0.0.1");
    EXPECT_EQ(addressText(s->lastHost()), "10.0.0.254");
    EXPECT_EQ(s->hostCount(), 254u);
    EXPECT_TRUE(s->contains(*parseAddress("10.0.0.200")));
    EXPECT_FALSE(s->contains(*parseAddress("10.0.1.1")));

    auto wide = Subnet::parse("10.0.0.0/8", error);
    ASSERT_TRUE(wide);
    EXPECT_EQ(wide->hostCount(), 16777214u);
    EXPECT_EQ(addressText(wide->lastHost()), "10.255.255.254");
    auto tiny = Subnet::parse("192.168.1.252/30", error);
    ASSERT_TRUE(tiny);
    EXPECT_EQ(tiny->hostCount(), 2u);
    EXPECT_EQ(addressText(tiny->firstHost()), "192.168.1.253");
    EXPECT_EQ(addressText(tiny->lastHost()), "192.168.1.254");
    auto top = Subnet::parse("255.255.255.0/24", error);
    ASSERT_TRUE(top);
    EXPECT_EQ(addressText(top->lastHost()), "255.255.255.254");
}

TEST(SubnetUnitTest, RefusesWithTheReason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"10.0.0.1/24", "subnet 10.0.0.1/24 has host bits set (the network is 10.0.0.0/24)"},
        {"::1/128", "subnet must be an IPv4 CIDR like 10.0.0.0/24, not IPv6"},
        {"10.0.0.0", "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the /prefix is missing)"},
        {"10.0.0/24",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the address is not a dotted quad)"},
        {"10.0.0.0.0/24",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the address is not a dotted quad)"},
        {" 10.0.0.0/24",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the address is not a dotted quad)"},
        {"10.0.0.0/",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the prefix is not a number "
         "from 8 to 30)"},
        {"10.0.0.0/024",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the prefix is not a "
         "number from 8 to 30)"},
        {"10.0.0.0/24 ",
         "subnet must be an IPv4 CIDR like 10.0.0.0/24 (the prefix is not a "
         "number from 8 to 30)"},
        {"10.0.0.0/7", "subnet prefix must be between /8 and /30, got /7"},
        {"10.0.0.0/32", "subnet prefix must be between /8 and /30, got /32"},
        {"", "subnet must not be empty"},
    };
    for (const auto& [text, message] : cases) {
        std::string error;
        EXPECT_FALSE(Subnet::parse(text, error)) << text;
        EXPECT_EQ(error, message) << text;
    }
}

TEST(SubnetUnitTest, AddressesAreStrictDottedQuads) {
    EXPECT_EQ(parseAddress("0.0.0.0"), 0u);
    EXPECT_EQ(parseAddress("255.255.255.255"), 0xffffffffu);
    EXPECT_EQ(parseAddress("1.2.3.4"), 0x01020304u);
    for (const char* bad : {"256.0.0.1", "01.2.3.4", "1.2.3", "1.2.3.4.", "1..3.4", "a.b.c.d",
                            "1.2.3.4x", "1234.1.1.1", "-1.2.3.4"}) {
        EXPECT_FALSE(parseAddress(bad)) << bad;
    }
}
