// device_info fields (see DeviceInfo.h).
#include "DeviceInfo.h"

#include "switchboard/Json.h"

namespace switchboard::devices {

namespace {

/// Appends `text` as a JSON string literal; plain text (the usual case) skips the JSON writer.
void appendQuoted(std::string& out, std::string_view text) {
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || c == '"' || c == '\\' || u >= 0x80) {
            out += json::quote(text);  // escapes, and validates UTF-8 the same way everywhere
            return;
        }
    }
    out += '"';
    out.append(text);
    out += '"';
}

}  // namespace

const std::vector<std::string>& DeviceInfo::knownFields() {
    static const std::vector<std::string> kFields = {"ip_address", "ip_lan",     "ip_public",
                                                     "mac",        "cluster_ip", "note"};
    return kFields;
}

bool DeviceInfo::readRequest(const rapidjson::Value& object, std::size_t maxLength,
                             std::string& error) {
    _fields.reserve(_fields.size() + knownFields().size());
    for (const std::string& name : knownFields()) {
        auto it = object.FindMember(name.c_str());
        if (it == object.MemberEnd() || it->value.IsNull()) {
            continue;
        }
        if (!it->value.IsString()) {
            error = name + " must be a string";
            return false;
        }
        if (it->value.GetStringLength() > maxLength) {
            error = name + " is too long (limit " + std::to_string(maxLength) + " bytes)";
            return false;
        }
        setString(name, std::string_view(it->value.GetString(), it->value.GetStringLength()));
    }
    return true;
}

bool DeviceInfo::set(std::string_view name, std::string jsonValue) {
    for (auto& field : _fields) {
        if (field.first == name) {
            if (field.second == jsonValue) {
                return false;
            }
            field.second = std::move(jsonValue);
            return true;
        }
    }
    _fields.emplace_back(std::string(name), std::move(jsonValue));
    return true;
}

void DeviceInfo::setString(std::string_view name, std::string_view value) {
    std::string quoted;
    quoted.reserve(value.size() + 2);
    appendQuoted(quoted, value);
    set(name, std::move(quoted));
}

bool DeviceInfo::has(std::string_view name) const {
    for (const auto& field : _fields) {
        if (field.first == name) {
            return true;
        }
    }
    return false;
}

std::string DeviceInfo::text(std::string_view name) const {
    for (const auto& field : _fields) {
        if (field.first == name) {
            rapidjson::Document value;
            value.Parse(field.second.c_str(), field.second.size());
            if (!value.HasParseError() && value.IsString()) {
                return std::string(value.GetString(), value.GetStringLength());
            }
            return {};
        }
    }
    return {};
}

void DeviceInfo::merge(const DeviceInfo& other) {
    for (const auto& field : other._fields) {
        set(field.first, field.second);
    }
}

bool DeviceInfo::merge(DeviceInfo&& other) {
    bool changed = false;
    for (auto& field : other._fields) {
        changed = set(field.first, std::move(field.second)) || changed;
    }
    other._fields.clear();
    return changed;
}

void DeviceInfo::mergeObject(const rapidjson::Value& object) {
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
        set(std::string_view(it->name.GetString(), it->name.GetStringLength()),
            json::stringify(it->value));
    }
}

std::string DeviceInfo::json() const {
    std::size_t size = 2;
    for (const auto& field : _fields) {
        size += field.first.size() + field.second.size() + 4;
    }
    std::string out;
    out.reserve(size);
    out += '{';
    for (const auto& field : _fields) {
        if (out.size() > 1) {
            out += ',';
        }
        appendQuoted(out, field.first);
        out += ':';
        out += field.second;
    }
    out += '}';
    return out;
}

bool DeviceInfo::parse(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        return false;
    }
    _fields.clear();
    mergeObject(doc);
    _fields.shrink_to_fit();  // one per device, kept for the life of the process
    return true;
}

}  // namespace switchboard::devices
