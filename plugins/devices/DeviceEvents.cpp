// Device event payloads (see DeviceEvents.h).
#include "DeviceEvents.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace switchboard::devices {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(Writer& w, const char* name, const std::string& value) {
    w.Key(name);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string text(const rapidjson::StringBuffer& buffer) {
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string DeviceEvents::online(const std::string& deviceKey, const std::string& ipAddress,
                                 double lastSeen) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    key(w, "device_key", deviceKey);
    key(w, "ip_address", ipAddress);
    w.Key("last_seen");
    w.Double(lastSeen);
    w.EndObject();
    return text(buffer);
}

std::string DeviceEvents::offline(const std::string& deviceKey, double lastSeen) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    key(w, "device_key", deviceKey);
    w.Key("last_seen");
    w.Double(lastSeen);
    w.EndObject();
    return text(buffer);
}

std::string DeviceEvents::registered(const std::string& deviceKey, double registeredAt,
                                     const std::string& ipAddress) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    key(w, "device_key", deviceKey);
    w.Key("registered_at");
    w.Double(registeredAt);
    key(w, "ip_address", ipAddress);
    w.EndObject();
    return text(buffer);
}

std::string DeviceEvents::revoked(const std::string& deviceKey) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    key(w, "device_key", deviceKey);
    w.EndObject();
    return text(buffer);
}

}  // namespace switchboard::devices
