// Admin list paging (see switchboard/Paging.h).
#include "switchboard/Paging.h"

#include <algorithm>

#include "switchboard/Http.h"

namespace switchboard {

namespace {

constexpr std::size_t kMaxQuery = 256;

/// A decimal number of at most 12 digits, or false.
bool decimal(const std::string& text, std::size_t& out) {
    if (text.empty() || text.size() > 12 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return false;
    }
    out = static_cast<std::size_t>(std::stoull(text));
    return true;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool PageQuery::read(const HttpRequest& req, HttpResponse& resp, PageQuery& out) {
    out = PageQuery();
    std::string limit = req.query("limit");
    if (!limit.empty() && (!decimal(limit, out.limit) || out.limit < 1 || out.limit > kMaxLimit)) {
        resp.error(400, "limit must be an integer from 1 to " + std::to_string(kMaxLimit));
        return false;
    }
    std::string offset = req.query("offset");
    if (!offset.empty() && !decimal(offset, out.offset)) {
        resp.error(400, "offset must be a non-negative integer");
        return false;
    }
    out.q = req.query("q");
    if (out.q.size() > kMaxQuery) {
        resp.error(400, "q is too long (limit " + std::to_string(kMaxQuery) + " bytes)");
        return false;
    }
    return true;
}

bool PageQuery::matches(std::string_view text) const {
    if (q.empty()) {
        return true;
    }
    auto it = std::search(text.begin(), text.end(), q.begin(), q.end(),
                          [](char a, char b) { return lower(a) == lower(b); });
    return it != text.end();
}

std::string PageQuery::likePattern() const {
    std::string out = "%";
    for (char c : q) {
        if (c == '%' || c == '_' || c == '\\') {
            out += '\\';
        }
        out += lower(c);
    }
    return out == "%" ? out : out + "%";
}

std::string PageQuery::body(const std::function<std::uint64_t(json::Writer&)>& items) const {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    std::uint64_t total = items(w);
    w.EndArray();
    w.Key("total");
    w.Uint64(total);
    w.Key("limit");
    w.Uint64(limit);
    w.Key("offset");
    w.Uint64(offset);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace switchboard
