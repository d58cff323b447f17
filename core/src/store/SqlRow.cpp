// SqlRow getters: typed reads of one fetched row with the conversions Store.h promises
// (NULL reads as 0 / 0.0 / "", int <-> double, numbers -> text, numeric text -> numbers).
#include "switchboard/Store.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace switchboard {

namespace {

const SqlValue& column(const std::vector<SqlValue>& values, std::size_t i) {
    if (i >= values.size()) {
        throw StoreError("column " + std::to_string(i) + " out of range (row has " +
                         std::to_string(values.size()) + " columns)");
    }
    return values[i];
}

/// Saturates instead of invoking undefined behaviour for NaN and out-of-range doubles.
std::int64_t toInt(double d) {
    if (std::isnan(d)) {
        return 0;
    }
    if (d >= 9223372036854775807.0) {
        return std::numeric_limits<std::int64_t>::max();
    }
    if (d <= -9223372036854775808.0) {
        return std::numeric_limits<std::int64_t>::min();
    }
    return static_cast<std::int64_t>(d);
}

/// SQLite reports expression columns (COUNT(*), MAX(x), CAST(...)) as text, so numeric text
/// must read back as a number.
bool parseInt(const std::string& s, std::int64_t& out) {
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end && !s.empty();
}

bool parseDouble(const std::string& s, double& out) {
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end && !s.empty();
}

[[noreturn]] void notANumber(std::size_t i, const std::string& s) {
    throw StoreError("column " + std::to_string(i) + ": '" + s + "' is not a number");
}

}  // namespace

bool SqlRow::isNull(std::size_t i) const {
    return std::holds_alternative<std::nullptr_t>(column(_values, i));
}

std::int64_t SqlRow::getInt(std::size_t i) const {
    const SqlValue& v = column(_values, i);
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<double>(&v)) {
        return toInt(*p);
    }
    if (auto p = std::get_if<std::string>(&v)) {
        std::int64_t n = 0;
        double d = 0.0;
        if (parseInt(*p, n)) {
            return n;
        }
        if (parseDouble(*p, d)) {
            return toInt(d);
        }
        notANumber(i, *p);
    }
    return 0;
}

double SqlRow::getDouble(std::size_t i) const {
    const SqlValue& v = column(_values, i);
    if (auto p = std::get_if<double>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return static_cast<double>(*p);
    }
    if (auto p = std::get_if<std::string>(&v)) {
        double d = 0.0;
        if (parseDouble(*p, d)) {
            return d;
        }
        notANumber(i, *p);
    }
    return 0.0;
}

std::string SqlRow::getString(std::size_t i) const {
    const SqlValue& v = column(_values, i);
    if (auto p = std::get_if<std::string>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return std::to_string(*p);
    }
    if (auto p = std::get_if<double>(&v)) {
        // Shortest text that reads back as the same double ("1.5", not "1.500000").
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *p);
        return ec == std::errc() ? std::string(buf, end) : std::to_string(*p);
    }
    return "";
}

void checkSqlParams(const SqlParams& params) {
    for (const SqlValue& value : params) {
        if (auto text = std::get_if<std::string>(&value)) {
            if (text->find('\0') != std::string::npos) {
                throw StoreError("store: text values must not contain NUL bytes");
            }
        }
    }
}

}  // namespace switchboard
