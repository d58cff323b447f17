// Paging of admin lists, the one shape every list under /admin/api answers: `limit` (default
// 100, 1..1000), `offset` (default 0) and, where a search makes sense, `q` (a substring filter),
// answered as {"items": [...], "total": N, "limit": L, "offset": O}, total counting all matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "switchboard/Json.h"

namespace switchboard {

class HttpRequest;
class HttpResponse;

/// The page a request asks for.
struct PageQuery {
    static constexpr std::size_t kDefaultLimit = 100;
    static constexpr std::size_t kMaxLimit = 1000;

    std::size_t limit = kDefaultLimit;
    std::size_t offset = 0;
    std::string q;  ///< "" matches everything

    /// Reads limit, offset and q. Answers 400 {"error": "limit must be an integer from 1 to
    /// 1000"} or {"error": "offset must be a non-negative integer"} (or "q is too long (limit
    /// 256 bytes)") itself and returns false.
    static bool read(const HttpRequest& req, HttpResponse& resp, PageQuery& out);

    /// True when q is empty or occurs in `text`, ignoring ASCII case.
    bool matches(std::string_view text) const;
    /// q as a pattern for `LOWER(column) LIKE $n ESCAPE '\'` in SQL: lower case, '%', '_' and
    /// '\' escaped, wrapped in '%' ("%" when q is empty).
    std::string likePattern() const;
    /// True when the match with number `index` (0-based, in list order) is on this page.
    bool onPage(std::size_t index) const { return index >= offset && index - offset < limit; }

    /// The list body: {"items": [...], "total", "limit", "offset"}. `items` writes the elements
    /// of this page and returns the number of all matches (the total).
    std::string body(const std::function<std::uint64_t(json::Writer&)>& items) const;
};

}  // namespace switchboard
