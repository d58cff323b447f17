// SQL statements on a session (see SqlStatement.h): SqlValue binding and RecordSet conversion.
#include "store/SqlStatement.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <cctype>

namespace switchboard {

using Poco::Data::Session;

namespace {

Poco::Data::AbstractBinding::Ptr toBinding(const SqlValue& value) {
    using Poco::Data::Keywords::bind;
    if (auto p = std::get_if<std::int64_t>(&value)) {
        return bind(static_cast<Poco::Int64>(*p));
    }
    if (auto p = std::get_if<double>(&value)) {
        return bind(*p);
    }
    if (auto p = std::get_if<std::string>(&value)) {
        return bind(*p);
    }
    // A null Nullable binds SQL NULL on every connector.
    return bind(Poco::Nullable<std::string>());
}

/// Runs `sql` with `params`; Poco exceptions become StoreError with Poco's message.
Poco::Data::Statement run(Session& session, const std::string& sql, const SqlParams& params,
                          std::size_t* affected) {
    checkSqlParams(params);
    try {
        Poco::Data::Statement statement(session);
        statement << sql;
        for (const SqlValue& value : params) {
            statement.addBind(toBinding(value));
        }
        std::size_t n = statement.execute();
        if (affected != nullptr) {
            *affected = n;
        }
        return statement;
    } catch (const Poco::Exception& e) {
        throw StoreError(e.displayText());
    }
}

SqlValue toSqlValue(const Poco::Data::RecordSet& rs, std::size_t col, std::size_t row) {
    using Poco::Data::MetaColumn;
    if (rs.isNull(col, row)) {
        return nullptr;
    }
    const Poco::Dynamic::Var value = rs.value(col, row);
    const MetaColumn::ColumnDataType type = rs.columnType(col);
    // FDT_BOOL .. FDT_UINT64 are the integer types, declared contiguously in MetaColumn.
    if (type >= MetaColumn::FDT_BOOL && type <= MetaColumn::FDT_UINT64) {
        return static_cast<std::int64_t>(value.convert<Poco::Int64>());
    }
    if (type == MetaColumn::FDT_FLOAT || type == MetaColumn::FDT_DOUBLE) {
        return value.convert<double>();
    }
    return value.convert<std::string>();
}

}  // namespace

std::int64_t runExecute(Session& session, const std::string& sql, const SqlParams& params) {
    std::size_t affected = 0;
    run(session, sql, params, &affected);
    return static_cast<std::int64_t>(affected);
}

std::vector<SqlRow> runQuery(Session& session, const std::string& sql, const SqlParams& params) {
    Poco::Data::Statement statement = run(session, sql, params, nullptr);
    try {
        Poco::Data::RecordSet rs(statement);
        const std::size_t columns = rs.columnCount();
        std::vector<SqlRow> rows;
        rows.reserve(rs.rowCount());
        for (std::size_t r = 0; r < rs.rowCount(); ++r) {
            std::vector<SqlValue> values;
            values.reserve(columns);
            for (std::size_t c = 0; c < columns; ++c) {
                values.push_back(toSqlValue(rs, c, r));
            }
            rows.emplace_back(std::move(values));
        }
        return rows;
    } catch (const Poco::Exception& e) {
        throw StoreError(e.displayText());
    }
}

bool isPlainSelect(const std::string& sql) {
    auto it = std::find_if(sql.begin(), sql.end(),
                           [](unsigned char c) { return !std::isspace(c) && c != '('; });
    static const std::string select = "select";
    for (char want : select) {
        if (it == sql.end() || std::tolower(static_cast<unsigned char>(*it)) != want) {
            return false;
        }
        ++it;
    }
    return it == sql.end() || !std::isalnum(static_cast<unsigned char>(*it));
}

}  // namespace switchboard
