// Event payloads the devices plugin publishes (device.online, device.offline, device.registered,
// device.revoked).
#pragma once

#include <string>

namespace switchboard::devices {

class DeviceEvents {
public:
    /// {"device_key": ..., "ip_address": ..., "last_seen": ...}
    static std::string online(const std::string& key, const std::string& ipAddress,
                              double lastSeen);
    /// {"device_key": ..., "last_seen": ...}
    static std::string offline(const std::string& key, double lastSeen);
    /// {"device_key": ..., "registered_at": ..., "ip_address": ...}
    static std::string registered(const std::string& key, double registeredAt,
                                  const std::string& ipAddress);
    /// {"device_key": ...}
    static std::string revoked(const std::string& key);
};

}  // namespace switchboard::devices
