// Text parsers for config values (integers, durations, sizes, ...) and their canonical form
// (see ConfigNode.h).
#include "config/ConfigNode.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace switchboard {

namespace {

bool parseInteger(const std::string& text, std::int64_t& value) {
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin != end && *begin == '+') {
        ++begin;
    }
    auto [ptr, ec] = std::from_chars(begin, end, value);
    return begin != end && ec == std::errc() && ptr == end;
}

bool parseNumber(const std::string& text, double& value) {
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin != end && *begin == '+') {
        ++begin;
    }
    auto [ptr, ec] = std::from_chars(begin, end, value);
    return begin != end && ec == std::errc() && ptr == end && std::isfinite(value);
}

bool parseBoolean(const std::string& text, bool& value) {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "true" || lower == "yes" || lower == "on") {
        value = true;
        return true;
    }
    if (lower == "false" || lower == "no" || lower == "off") {
        value = false;
        return true;
    }
    return false;
}

/// Reads the digits at `pos` into `value`; false if there are none or they overflow.
bool readDigits(const std::string& text, std::size_t& pos, std::uint64_t& value) {
    std::size_t start = pos;
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    pos = static_cast<std::size_t>(ptr - text.data());
    return pos != start && ec == std::errc();
}

/// "1h30m" style: number+unit parts, largest unit first, each unit at most once. Bare "0" is ok.
bool parseDuration(const std::string& text, std::int64_t& millis) {
    if (text == "0") {
        millis = 0;
        return true;
    }
    static const std::pair<const char*, std::uint64_t> units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    const std::uint64_t limit = static_cast<std::uint64_t>(INT64_MAX);
    std::uint64_t total = 0;
    std::size_t pos = 0;
    std::size_t nextUnit = 0;  // units must come in the order of the table
    while (pos < text.size()) {
        std::uint64_t count = 0;
        if (!readDigits(text, pos, count)) {
            return false;
        }
        std::size_t unitEnd = pos;
        while (unitEnd < text.size() && std::isalpha(static_cast<unsigned char>(text[unitEnd]))) {
            ++unitEnd;
        }
        std::string unit = text.substr(pos, unitEnd - pos);
        std::size_t u = nextUnit;
        while (u < std::size(units) && unit != units[u].first) {
            ++u;
        }
        if (u == std::size(units) || count > (limit - total) / units[u].second) {
            return false;
        }
        total += count * units[u].second;
        nextUnit = u + 1;
        pos = unitEnd;
    }
    millis = static_cast<std::int64_t>(total);
    return !text.empty();
}

/// "512", "512B", "64KiB", "4 MiB", "2GB".
bool parseSize(const std::string& text, std::uint64_t& bytes) {
    static const std::pair<const char*, std::uint64_t> units[] = {
        {"", 1},
        {"B", 1},
        {"KB", 1000},
        {"MB", 1000000},
        {"GB", 1000000000},
        {"KiB", 1ULL << 10},
        {"MiB", 1ULL << 20},
        {"GiB", 1ULL << 30},
    };
    std::size_t pos = 0;
    std::uint64_t count = 0;
    if (!readDigits(text, pos, count)) {
        return false;
    }
    while (pos < text.size() && text[pos] == ' ') {
        ++pos;
    }
    std::string unit = text.substr(pos);
    for (const auto& [name, factor] : units) {
        if (unit == name) {
            if (count > std::numeric_limits<std::uint64_t>::max() / factor) {
                return false;
            }
            bytes = count * factor;
            return true;
        }
    }
    return false;
}

std::string quote(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

const ConfigSection::Node::Entry* ConfigSection::Node::find(const std::string& name) const {
    for (const Entry& entry : entries) {
        if (entry.name == name) {
            return &entry;
        }
    }
    return nullptr;
}

std::string ConfigSection::Node::parseScalar(const ConfigField& field, const std::string& text,
                                             Entry& entry) {
    bool ok = true;
    switch (field.type) {
        case ConfigType::String:
            entry.text = text;
            break;
        case ConfigType::Choice:
            entry.text = text;
            ok = std::find(field.choices.begin(), field.choices.end(), text) != field.choices.end();
            break;
        case ConfigType::Integer:
            if (!parseInteger(text, entry.integer)) {
                ok = false;
            } else if (entry.integer < field.min || entry.integer > field.max) {
                return "must be between " + std::to_string(field.min) + " and " +
                       std::to_string(field.max);
            }
            break;
        case ConfigType::Number:
            ok = parseNumber(text, entry.number);
            break;
        case ConfigType::Boolean:
            ok = parseBoolean(text, entry.boolean);
            break;
        case ConfigType::Duration:
            ok = parseDuration(text, entry.integer);
            break;
        case ConfigType::Size:
            ok = parseSize(text, entry.size);
            break;
        default:
            ok = false;  // not a scalar type
    }
    return ok ? "" : expectation(field);
}

std::string ConfigSection::Node::expectation(const ConfigField& field) {
    switch (field.type) {
        case ConfigType::String:
            return "expected a string";
        case ConfigType::Integer:
            return "expected an integer";
        case ConfigType::Number:
            return "expected a number";
        case ConfigType::Boolean:
            return "expected true or false";
        case ConfigType::Duration:
            return "expected a duration like 90s";
        case ConfigType::Size:
            return "expected a size like 4MiB";
        case ConfigType::StringList:
            return "expected a list of strings";
        case ConfigType::Choice: {
            std::string list;
            for (const std::string& choice : field.choices) {
                list += (list.empty() ? "" : ", ") + choice;
            }
            return "expected one of: " + list;
        }
        default:
            return "expected a mapping";
    }
}

std::string ConfigSection::Node::typeName(ConfigType type) {
    switch (type) {
        case ConfigType::String:
            return "string";
        case ConfigType::Integer:
            return "integer";
        case ConfigType::Number:
            return "number";
        case ConfigType::Boolean:
            return "boolean";
        case ConfigType::Duration:
            return "duration";
        case ConfigType::Size:
            return "size";
        case ConfigType::Choice:
            return "choice";
        case ConfigType::StringList:
            return "string list";
        case ConfigType::StringMap:
            return "string map";
        case ConfigType::Section:
            return "section";
        case ConfigType::SectionMap:
            return "section map";
        case ConfigType::Any:
            return "any";
    }
    return "?";
}

std::string ConfigSection::Node::formatNumber(double value) {
    char buf[32];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, value);
        double back = 0;
        if (parseNumber(buf, back) && back == value) {
            break;
        }
    }
    return buf;
}

std::string ConfigSection::Node::join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

std::string ConfigSection::Node::Entry::canonical() const {
    std::string out;
    switch (type) {
        case ConfigType::String:
        case ConfigType::Choice:
        case ConfigType::Any:
            return quote(text);
        case ConfigType::Integer:
            return std::to_string(integer);
        case ConfigType::Number:
            return formatNumber(number);
        case ConfigType::Boolean:
            return boolean ? "true" : "false";
        case ConfigType::Duration:
            return std::to_string(integer) + "ms";
        case ConfigType::Size:
            return std::to_string(size) + "B";
        case ConfigType::StringList:
            for (const std::string& item : list) {
                out += (out.empty() ? "" : ",") + quote(item);
            }
            return "[" + out + "]";
        case ConfigType::StringMap:
            for (const auto& [key, value] : map) {
                out += (out.empty() ? "" : ",") + quote(key) + ":" + quote(value);
            }
            return "{" + out + "}";
        case ConfigType::Section:
            return ConfigSection(section).fingerprint();
        case ConfigType::SectionMap:
            for (const Entry& child : children) {
                out += (out.empty() ? "" : ",") + quote(child.name) + ":" + child.canonical();
            }
            return "{" + out + "}";
    }
    return out;
}

}  // namespace switchboard
