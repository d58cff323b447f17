// The signaling plugin's pure parts (plugins/signaling): subnets as organizations are created
// with (Subnet::parse, parseAddress) and the peer object every peer_online and
// register_agent_response carries (Peer::finish). Checked: a subnet or address that parses
// prints back to the same text and its ranges are consistent; a peer built from any field
// values serialises to JSON that parses back to those values. (The /ws message validation in
// SignalingSocket needs a host context: see docs/decisions.md, "Fuzzing".)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "FuzzCheck.h"
#include "signaling/PeerRegistry.h"
#include "signaling/Subnet.h"
#include "switchboard/Utf8.h"

using namespace switchboard::signaling;

namespace {

void checkSubnet(std::string_view text) {
    std::string error;
    auto subnet = Subnet::parse(text, error);
    if (!subnet) {
        FUZZ_CHECK(!error.empty());
        return;
    }
    FUZZ_CHECK(subnet->text() == text);
    FUZZ_CHECK(subnet->prefix >= 8 && subnet->prefix <= 30);
    FUZZ_CHECK((subnet->network & ~subnet->mask()) == 0);
    FUZZ_CHECK(subnet->hostCount() == (std::uint64_t{1} << (32 - subnet->prefix)) - 2);
    FUZZ_CHECK(subnet->contains(subnet->firstHost()) && subnet->contains(subnet->lastHost()));
    FUZZ_CHECK(!subnet->contains(subnet->network - 1) || subnet->network == 0);
}

void checkAddress(std::string_view text) {
    auto address = parseAddress(text);
    if (address) {
        FUZZ_CHECK(addressText(*address) == text);
    }
}

bool stringIs(const rapidjson::Value& object, const char* key, const std::string& value) {
    auto it = object.FindMember(key);
    return it != object.MemberEnd() && it->value.IsString() &&
           std::string_view(it->value.GetString(), it->value.GetStringLength()) == value;
}

bool intIs(const rapidjson::Value& object, const char* key, std::int64_t value) {
    auto it = object.FindMember(key);
    return it != object.MemberEnd() && it->value.IsInt64() && it->value.GetInt64() == value;
}

bool nullAt(const rapidjson::Value& object, const char* key) {
    auto it = object.FindMember(key);
    return it != object.MemberEnd() && it->value.IsNull();
}

void checkPeer(const std::vector<std::string_view>& parts, const std::uint8_t* data,
               std::size_t size) {
    auto part = [&](std::size_t i) {
        return i < parts.size() ? std::string(parts[i]) : std::string();
    };
    auto number = [&](std::size_t i) {
        std::int64_t n = 0;
        for (std::size_t k = 0; k < 8; ++k) {
            n = (n << 8) | (i * 8 + k < size ? data[i * 8 + k] : 0);
        }
        return n;
    };
    Peer peer;
    peer.peerId = part(0);
    peer.email = part(1);
    peer.agentId = part(2);
    peer.publicIp = part(3);
    peer.virtualIp = part(4);
    if (parts.size() > 5) {
        peer.relayIp = part(5);
        peer.relayPort = number(2);
    }
    peer.userId = number(0);
    peer.publicPort = number(1);
    peer.finish();
    bool utf8 = switchboard::validUtf8(std::string_view(reinterpret_cast<const char*>(data), size));
    if (utf8) {
        FUZZ_CHECK(switchboard::validUtf8(peer.json));
    }
    rapidjson::Document doc;
    doc.Parse(peer.json.data(), peer.json.size());
    FUZZ_CHECK(!doc.HasParseError() && doc.IsObject());
    FUZZ_CHECK(doc.MemberCount() == 9);
    FUZZ_CHECK(stringIs(doc, "peer_id", peer.peerId));
    FUZZ_CHECK(intIs(doc, "user_id", peer.userId));
    FUZZ_CHECK(peer.email.empty() ? nullAt(doc, "email") : stringIs(doc, "email", peer.email));
    FUZZ_CHECK(peer.agentId.empty() ? nullAt(doc, "agent_id")
                                    : stringIs(doc, "agent_id", peer.agentId));
    FUZZ_CHECK(stringIs(doc, "public_ip", peer.publicIp));
    FUZZ_CHECK(intIs(doc, "public_port", peer.publicPort));
    FUZZ_CHECK(peer.relayIp ? stringIs(doc, "relay_ip", *peer.relayIp) : nullAt(doc, "relay_ip"));
    FUZZ_CHECK(peer.relayPort ? intIs(doc, "relay_port", *peer.relayPort)
                              : nullAt(doc, "relay_port"));
    FUZZ_CHECK(stringIs(doc, "virtual_ip", peer.virtualIp));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    checkSubnet(text);
    checkAddress(text);
    // The same bytes as peer fields separated by '\n'.
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= text.size() && parts.size() < 8) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
        checkSubnet(parts.back());
        checkAddress(parts.back());
    }
    checkPeer(parts, data, size);
    return 0;
}
