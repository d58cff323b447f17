// A device's device_info object: what it reported at registration and in its latest heartbeat
// (plus what the on_device_heartbeat hook merged in). Values are kept as JSON text so merging
// and writing it out on the heartbeat path is string work only.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::devices {

class DeviceInfo {
public:
    /// The fields the Meeting client sends: ip_address, ip_lan, ip_public, mac, cluster_ip, note.
    static const std::vector<std::string>& knownFields();

    /// Reads the known fields of a request object. Absent or null fields are skipped; other
    /// members are ignored. Errors: "<field> must be a string", "<field> is too long (limit N
    /// bytes)".
    bool readRequest(const rapidjson::Value& object, std::size_t maxLength, std::string& error);

    /// Sets `name` to a JSON value given as JSON text; true if that changed anything.
    bool set(std::string_view name, std::string jsonValue);
    void setString(std::string_view name, std::string_view value);
    bool has(std::string_view name) const;
    /// The value of `name` if it is a JSON string, else "".
    std::string text(std::string_view name) const;
    /// Overwrites / adds every field of `other`.
    void merge(const DeviceInfo& other);
    /// The same, taking the values over (no copies: this is the heartbeat path). True if any
    /// field was added or changed.
    bool merge(DeviceInfo&& other);
    /// Overwrites / adds every member of a JSON object.
    void mergeObject(const rapidjson::Value& object);

    /// The object as compact JSON text, fields in first-set order.
    std::string json() const;
    /// Replaces the contents with a stored JSON object text. False if it is not one.
    bool parse(const std::string& text);
    bool empty() const { return _fields.empty(); }

private:
    std::vector<std::pair<std::string, std::string>> _fields;
};

}  // namespace switchboard::devices
