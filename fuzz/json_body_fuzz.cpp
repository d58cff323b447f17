// JSON bodies (switchboard/Json.h): json::parseObject on any bytes. Checked: it accepts exactly
// the JSON objects whose text is UTF-8 (cross-checked against a decoder written here, after
// RFC 3629); what it accepts serialises with json::stringify to UTF-8 JSON that parses again to
// the same value (doubles within a few ulps); its errors are the documented ones.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "FuzzCheck.h"
#include "switchboard/Json.h"
#include "switchboard/Utf8.h"

namespace {

/// RFC 3629, written out as its table of well-formed byte sequences.
bool referenceUtf8(std::string_view s) {
    std::size_t i = 0;
    auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
        return i + k < s.size() && static_cast<unsigned char>(s[i + k]) >= lo &&
               static_cast<unsigned char>(s[i + k]) <= hi;
    };
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        if (c <= 0x7F) {
            n = 1;
        } else if (c >= 0xC2 && c <= 0xDF && in(1, 0x80, 0xBF)) {
            n = 2;
        } else if (c == 0xE0 && in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF)) {
            n = 3;
        } else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && in(1, 0x80, 0xBF) &&
                   in(2, 0x80, 0xBF)) {
            n = 3;
        } else if (c == 0xED && in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF)) {
            n = 3;
        } else if (c == 0xF0 && in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) {
            n = 4;
        } else if (c >= 0xF1 && c <= 0xF3 && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) &&
                   in(3, 0x80, 0xBF)) {
            n = 4;
        } else if (c == 0xF4 && in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) {
            n = 4;
        } else {
            return false;
        }
        i += n;
    }
    return true;
}

/// RapidJSON parses numbers without full precision by default, within a few ulps of the value
/// (its documentation; the full-precision flag has undefined behaviour in rapidjson 1.1's
/// internal/strtod.h on some inputs): a double may move by that much through a round trip.
bool close(double a, double b) {
    return a == b || std::fabs(a - b) <= 1e-15 * std::max(std::fabs(a), std::fabs(b));
}

/// The same value, members in the same order (rapidjson's operator== looks members up by name,
/// which is wrong for a repeated key).
bool same(const rapidjson::Value& x, const rapidjson::Value& y) {
    if (x.GetType() != y.GetType()) {
        return false;
    }
    if (x.IsNumber()) {
        if (x.IsDouble() || y.IsDouble()) {
            return x.IsDouble() == y.IsDouble() && close(x.GetDouble(), y.GetDouble());
        }
        return x.IsInt64() == y.IsInt64() &&
               (x.IsInt64() ? x.GetInt64() == y.GetInt64() : x.GetUint64() == y.GetUint64());
    }
    if (x.IsString()) {
        return std::string_view(x.GetString(), x.GetStringLength()) ==
               std::string_view(y.GetString(), y.GetStringLength());
    }
    if (x.IsArray()) {
        if (x.Size() != y.Size()) {
            return false;
        }
        for (rapidjson::SizeType i = 0; i < x.Size(); ++i) {
            if (!same(x[i], y[i])) {
                return false;
            }
        }
        return true;
    }
    if (x.IsObject()) {
        if (x.MemberCount() != y.MemberCount()) {
            return false;
        }
        for (auto a = x.MemberBegin(), b = y.MemberBegin(); a != x.MemberEnd(); ++a, ++b) {
            if (!same(a->name, b->name) || !same(a->value, b->value)) {
                return false;
            }
        }
        return true;
    }
    return true;
}

bool endsWith(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    FUZZ_CHECK(switchboard::validUtf8(text) == referenceUtf8(text));

    rapidjson::Document doc;
    std::string error;
    bool ok = switchboard::json::parseObject(text, doc, error);
    if (!ok) {
        FUZZ_CHECK(error == "body is not valid JSON" || error == "body must be a JSON object" ||
                   endsWith(error, " is not valid UTF-8") ||
                   endsWith(error, " is too large a number"));
        if (endsWith(error, " is not valid UTF-8")) {
            // An object with a string that is not UTF-8: its serialisation is not UTF-8 either.
            FUZZ_CHECK(doc.IsObject());
            FUZZ_CHECK(!switchboard::validUtf8(switchboard::json::stringify(doc)));
        }
        return 0;
    }
    FUZZ_CHECK(error.empty());
    FUZZ_CHECK(doc.IsObject());
    std::string again = switchboard::json::stringify(doc);
    FUZZ_CHECK(switchboard::validUtf8(again));
    rapidjson::Document reparsed;
    std::string error2;
    FUZZ_CHECK(switchboard::json::parseObject(again, reparsed, error2));
    FUZZ_CHECK(same(reparsed, doc));
    return 0;
}
