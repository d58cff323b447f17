// Route table construction and matching (see Router.h).
#include "net/Router.h"

namespace switchboard {

namespace {

std::vector<std::string> splitPath(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t start = 1;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        parts.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

bool isParam(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void RouteTable::add(RouteEntry entry) {
    if (entry.pattern.empty() || entry.pattern.front() != '/') {
        throw std::invalid_argument("route path must start with '/': '" + entry.pattern + "'");
    }
    for (const auto& existing : _entries) {
        if (existing->method == entry.method && existing->pattern == entry.pattern) {
            throw RouteConflict(_listener + ": " + entry.method + " " + entry.pattern +
                                " is mounted by both " + existing->owner + " and " + entry.owner);
        }
    }
    entry.segments = splitPath(entry.pattern);
    for (const auto& segment : entry.segments) {
        if (isParam(segment)) {
            entry.hasParams = true;
        } else if (segment.find_first_of("{}") != std::string::npos) {
            throw std::invalid_argument("bad route segment '" + segment + "' in " + entry.pattern);
        }
    }
    auto shared = std::make_shared<RouteEntry>(std::move(entry));
    if (shared->hasParams) {
        _patterns.push_back(shared.get());
    } else {
        _exact[shared->pattern].push_back(shared.get());
    }
    _entries.push_back(std::move(shared));
}

bool RouteTable::matchPattern(const RouteEntry& entry, std::string_view path, RouteParams& params) {
    if (path.empty() || path.front() != '/') {
        return false;
    }
    std::size_t pos = 1;
    std::size_t firstParam = params.size();
    for (std::size_t i = 0; i < entry.segments.size(); ++i) {
        if (pos > path.size()) {
            params.resize(firstParam);
            return false;
        }
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        std::string_view part = path.substr(pos, end - pos);
        const std::string& segment = entry.segments[i];
        if (isParam(segment)) {
            if (part.empty()) {
                params.resize(firstParam);
                return false;
            }
            params.emplace_back(segment.substr(1, segment.size() - 2), std::string(part));
        } else if (part != segment) {
            params.resize(firstParam);
            return false;
        }
        pos = end + 1;
    }
    if (pos <= path.size()) {  // path has more segments than the pattern
        params.resize(firstParam);
        return false;
    }
    return true;
}

RouteTable::Match RouteTable::match(std::string_view method, const std::string& path,
                                    RouteParams& params) const {
    Match result;
    auto exact = _exact.find(path);
    if (exact != _exact.end()) {
        result.pathKnown = true;
        for (const RouteEntry* entry : exact->second) {
            if (entry->method == method) {
                result.entry = entry;
                return result;
            }
        }
    }
    for (const RouteEntry* entry : _patterns) {
        RouteParams candidate;
        if (matchPattern(*entry, path, candidate)) {
            result.pathKnown = true;
            if (entry->method == method) {
                params = std::move(candidate);
                result.entry = entry;
                return result;
            }
        }
    }
    return result;
}

}  // namespace switchboard
