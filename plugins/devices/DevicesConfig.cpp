// Devices configuration schema and parsing (see DevicesConfig.h).
#include "DevicesConfig.h"

#include <fstream>
#include <sstream>

#include "SshPublicKey.h"

namespace switchboard::devices {

void DevicesConfig::declare(ConfigSchema& schema) {
    schema.string("listener", "public", "Listener serving the device API (/api/...)")
        .duration("offline_after", "180s", "A device without a heartbeat this long is offline")
        .atLeast("1ms")
        .duration("check_interval", "5s", "How often devices are checked for going offline")
        .atLeast("1ms")
        .duration("token_ttl", "24h", "How long a registration token stays valid")
        .atLeast("1ms")
        .string("ssh_host_key", "",
                "OpenSSH public host key file served on GET /api/ssh-hostkey "
                "(empty: an ed25519 key generated under the data directory)")
        .size("max_field_length", "1KiB", "Longest device_info value or enrolment note accepted")
        .atLeast("1B");
    schema.boolean("require_device_secret", false,
                   "Heartbeats, SSH-key uploads and detail look-ups must present the "
                   "device_secret issued at registration (X-Device-Secret header); off, the "
                   "device key alone is enough, as for the seed's clients");
    schema
        .section("rate_limit",
                 "Failed registration-token and device-secret attempts, and requests for "
                 "unknown devices (429 beyond)")
        .integer("per_device", 10, 0, 1000000,
                 "Failed attempts per device per window (0: no limit)")
        .integer("per_address", 30, 0, 1000000,
                 "Failed attempts per client address per window, requests naming an "
                 "unknown device included (0: no limit)")
        .duration("window", "15m", "Length of the counting window")
        .atLeast("1ms");
}

namespace {

std::string readHostKey(const ConfigSection& section, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw section.error("ssh_host_key", "cannot read " + path);
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string line = text.str();
    std::string normalized;
    std::string problem;
    if (!SshPublicKey::validate(line, normalized, problem)) {
        throw section.error("ssh_host_key", path + " is not an OpenSSH public key: " + problem);
    }
    return normalized;
}

}  // namespace

DevicesConfig DevicesConfig::parse(const ConfigSection& section) {
    DevicesConfig c;
    c.listener = section.getString("listener");
    c.offlineAfter = section.getDuration("offline_after");
    c.checkInterval = section.getDuration("check_interval");
    c.tokenTtl = section.getDuration("token_ttl");
    c.maxFieldLength = section.getSize("max_field_length");
    c.failedTokensPerDevice = static_cast<std::uint64_t>(section.getInt("rate_limit.per_device"));
    c.failedTokensPerAddress = static_cast<std::uint64_t>(section.getInt("rate_limit.per_address"));
    c.rateWindow = section.getDuration("rate_limit.window");
    c.requireDeviceSecret = section.getBool("require_device_secret");
    c.sshHostKeyFile = section.getString("ssh_host_key");
    if (!c.sshHostKeyFile.empty()) {
        c.sshHostKey = readHostKey(section, c.sshHostKeyFile);
    }
    return c;
}

}  // namespace switchboard::devices
