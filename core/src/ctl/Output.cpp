// Operator CLI output (see Output.h).
#include "ctl/Output.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace switchboard::ctl {

namespace {

bool isTimeColumn(const std::string& c) {
    auto ends = [&](const std::string& s) {
        return c.size() >= s.size() && c.compare(c.size() - s.size(), s.size(), s) == 0;
    };
    return c == "time" || ends("_at") || c.rfind("last_", 0) == 0;
}

std::string compact(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
        return c == '_' ? ' ' : static_cast<char>(std::toupper(c));
    });
    return s;
}

}  // namespace

const rapidjson::Value* listOf(const rapidjson::Value& doc) {
    if (doc.IsArray()) {
        return &doc;
    }
    if (!doc.IsObject()) {
        return nullptr;
    }
    auto items = doc.FindMember("items");
    if (items != doc.MemberEnd() && items->value.IsArray()) {
        return &items->value;
    }
    for (const auto& m : doc.GetObject()) {
        if (m.value.IsArray()) {
            return &m.value;
        }
    }
    return nullptr;
}

std::string cell(const std::string& column, const rapidjson::Value& value) {
    if (value.IsNull()) {
        return "-";
    }
    if (value.IsString()) {
        return std::string(value.GetString(), value.GetStringLength());
    }
    if (value.IsBool()) {
        return value.GetBool() ? "yes" : "no";
    }
    if (value.IsNumber() && isTimeColumn(column)) {
        double seconds = value.GetDouble();
        if (seconds <= 0) {
            return "-";
        }
        std::time_t t = static_cast<std::time_t>(std::floor(seconds));
        std::tm tm{};
        gmtime_r(&t, &tm);
        char text[32];
        std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &tm);
        return text;
    }
    return compact(value);
}

void printTable(std::ostream& out, const rapidjson::Value& rows, std::vector<std::string> columns) {
    if (columns.empty() && rows.IsArray() && !rows.Empty() && rows[0].IsObject()) {
        for (const auto& m : rows[0].GetObject()) {
            if (!m.value.IsObject() && !m.value.IsArray()) {
                columns.emplace_back(m.name.GetString(), m.name.GetStringLength());
            }
        }
    }
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header;
    for (const auto& c : columns) {
        header.push_back(upper(c));
    }
    table.push_back(header);
    for (const auto& row : rows.GetArray()) {
        std::vector<std::string> line;
        for (const auto& c : columns) {
            auto m = row.IsObject() ? row.FindMember(c.c_str()) : row.MemberEnd();
            line.push_back(row.IsObject() && m != row.MemberEnd() ? cell(c, m->value) : "-");
        }
        table.push_back(std::move(line));
    }
    std::vector<std::size_t> widths(columns.size(), 0);
    for (const auto& line : table) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            widths[i] = std::max(widths[i], line[i].size());
        }
    }
    for (const auto& line : table) {
        std::string text;
        for (std::size_t i = 0; i < line.size(); ++i) {
            text += line[i];
            if (i + 1 < line.size()) {
                text += std::string(widths[i] - line[i].size() + 2, ' ');
            }
        }
        text.erase(text.find_last_not_of(' ') + 1);
        out << text << "\n";
    }
}

void printObject(std::ostream& out, const rapidjson::Value& object) {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& m : object.GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        if (m.value.IsObject()) {
            for (const auto& inner : m.value.GetObject()) {
                std::string name(inner.name.GetString(), inner.name.GetStringLength());
                lines.emplace_back(key + "." + name, cell(name, inner.value));
            }
        } else if (m.value.IsArray() && key == "problems") {
            for (const auto& p : m.value.GetArray()) {
                lines.emplace_back("problem", cell(key, p));
            }
        } else {
            lines.emplace_back(key, cell(key, m.value));
        }
    }
    std::size_t width = 0;
    for (const auto& [key, value] : lines) {
        width = std::max(width, key.size());
    }
    for (const auto& [key, value] : lines) {
        out << key << std::string(width - key.size() + 2, ' ') << value << "\n";
    }
}

}  // namespace switchboard::ctl
