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

using Entry = ConfigSection::Node::Entry;

/// Parses `text` as a value of `field`'s type into `entry`, ignoring its bounds.
bool parseValue(const ConfigField& field, const std::string& text, Entry& entry) {
    switch (field.type) {
        case ConfigType::String:
            entry.text = text;
            return true;
        case ConfigType::Choice:
            entry.text = text;
            return std::find(field.choices.begin(), field.choices.end(), text) !=
                   field.choices.end();
        case ConfigType::Integer:
            return parseInteger(text, entry.integer);
        case ConfigType::Number:
            return parseNumber(text, entry.number);
        case ConfigType::Boolean:
            return parseBoolean(text, entry.boolean);
        case ConfigType::Duration:
            return parseDuration(text, entry.integer);
        case ConfigType::Size:
            return parseSize(text, entry.size);
        default:
            return false;  // not a scalar type
    }
}

/// Orders two values of a bounded type: negative, zero or positive as `a` is below, equal to or
/// above `b`.
int compare(ConfigType type, const Entry& a, const Entry& b) {
    switch (type) {
        case ConfigType::Number:
            return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
        case ConfigType::Size:
            return a.size < b.size ? -1 : a.size > b.size ? 1 : 0;
        default:  // Integer, Duration (milliseconds)
            return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
    }
}

/// True if `entry` lies on the allowed side of the bound written as `text` ("" = no bound).
bool within(const ConfigField& field, const Entry& entry, const std::string& text, int side) {
    if (text.empty()) {
        return true;
    }
    Entry limit;
    if (!parseValue(field, text, limit)) {
        return false;  // checked when declared; unreachable
    }
    return compare(field.type, entry, limit) * side <= 0;
}

/// "must be between 1 and 10", "must be at least 1ms", "must be at most 4GiB".
std::string boundsProblem(const std::pair<std::string, std::string>& bounds) {
    const auto& [min, max] = bounds;
    if (!min.empty() && !max.empty()) {
        return "must be between " + min + " and " + max;
    }
    return min.empty() ? "must be at most " + max : "must be at least " + min;
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
    if (!parseValue(field, text, entry)) {
        return expectation(field);
    }
    bool inside = true;
    if (field.type == ConfigType::Integer) {
        inside = entry.integer >= field.min && entry.integer <= field.max;
    } else if (field.type == ConfigType::Number || field.type == ConfigType::Duration ||
               field.type == ConfigType::Size) {
        inside = within(field, entry, field.minText, -1) && within(field, entry, field.maxText, 1);
    }
    return inside ? "" : boundsProblem(bounds(field));
}

std::pair<std::string, std::string> ConfigSection::Node::bounds(const ConfigField& field) {
    if (field.type == ConfigType::Integer) {
        return {field.min == INT64_MIN ? "" : std::to_string(field.min),
                field.max == INT64_MAX ? "" : std::to_string(field.max)};
    }
    return {field.minText, field.maxText};
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
    if (value == static_cast<double>(static_cast<long long>(value)) && value > -1e15 &&
        value < 1e15) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));  // 100, not 1e+02
        return buf;
    }
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
