// JSON member scanning for sb-sigload (see JsonScan.h).
#include "JsonScan.h"

namespace sigload::json {

namespace {

constexpr std::size_t npos = std::string_view::npos;

std::size_t skipWs(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        ++i;
    }
    return i;
}

// s[i] is the opening quote; returns the index after the closing one.
std::size_t skipString(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return npos;
}

// Returns the index after the value starting at s[i].
std::size_t skipValue(std::string_view s, std::size_t i) {
    if (i >= s.size()) {
        return npos;
    }
    char c = s[i];
    if (c == '"') {
        return skipString(s, i);
    }
    if (c == '{' || c == '[') {
        int depth = 0;
        while (i < s.size()) {
            char d = s[i];
            if (d == '"') {
                i = skipString(s, i);
                if (i == npos) {
                    return npos;
                }
                continue;
            }
            if (d == '{' || d == '[') {
                ++depth;
            } else if (d == '}' || d == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            ++i;
        }
        return npos;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
        ++i;
    }
    return i;
}

}  // namespace

std::string_view member(std::string_view s, std::string_view key) {
    std::size_t i = skipWs(s, 0);
    if (i >= s.size() || s[i] != '{') {
        return {};
    }
    i = skipWs(s, i + 1);
    while (i < s.size() && s[i] == '"') {
        std::size_t keyEnd = skipString(s, i);
        if (keyEnd == npos) {
            return {};
        }
        std::string_view name = s.substr(i + 1, keyEnd - i - 2);
        i = skipWs(s, keyEnd);
        if (i >= s.size() || s[i] != ':') {
            return {};
        }
        i = skipWs(s, i + 1);
        std::size_t valueEnd = skipValue(s, i);
        if (valueEnd == npos) {
            return {};
        }
        if (name == key) {
            return s.substr(i, valueEnd - i);
        }
        i = skipWs(s, valueEnd);
        if (i >= s.size() || s[i] != ',') {
            return {};
        }
        i = skipWs(s, i + 1);
    }
    return {};
}

std::string_view str(std::string_view raw) {
    if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') {
        return {};
    }
    return raw.substr(1, raw.size() - 2);
}

int forEach(std::string_view s, const std::function<void(std::string_view)>& fn) {
    std::size_t i = skipWs(s, 0);
    if (i >= s.size() || s[i] != '[') {
        return -1;
    }
    i = skipWs(s, i + 1);
    if (i < s.size() && s[i] == ']') {
        return 0;
    }
    int count = 0;
    while (i < s.size()) {
        std::size_t end = skipValue(s, i);
        if (end == npos) {
            return -1;
        }
        fn(s.substr(i, end - i));
        ++count;
        i = skipWs(s, end);
        if (i < s.size() && s[i] == ']') {
            return count;
        }
        if (i >= s.size() || s[i] != ',') {
            return -1;
        }
        i = skipWs(s, i + 1);
    }
    return -1;
}

}  // namespace sigload::json
