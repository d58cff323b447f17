// The Store service: SQL over Poco::Data behind an interface that does not assume SQLite, with
// per-owner versioned migrations and a write-behind helper for high-rate updates.
//
// Portable SQL rules (both SQLite and PostgreSQL run it): placeholders are $1..$n, numbered in
// order of first appearance; use BIGINT, DOUBLE PRECISION, TEXT; upserts with
// INSERT ... ON CONFLICT (...) DO UPDATE SET x = excluded.x; times as BIGINT or DOUBLE epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace switchboard {

/// A bound parameter or a fetched column.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using SqlParams = std::vector<SqlValue>;

/// A store failure (bad SQL, constraint violation, backend down). what() names the cause.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Throws StoreError if a text parameter holds a NUL byte: POCO's SQLite connector would read
/// it back cut at the NUL, so such values are refused rather than silently changed.
void checkSqlParams(const SqlParams& params);

/// One fetched row. Getters convert where it makes sense (int <-> double, number -> text);
/// NULL reads as 0 / 0.0 / "".
class SqlRow {
public:
    explicit SqlRow(std::vector<SqlValue> values) : _values(std::move(values)) {}
    std::size_t size() const { return _values.size(); }
    bool isNull(std::size_t i) const;
    std::int64_t getInt(std::size_t i) const;
    double getDouble(std::size_t i) const;
    std::string getString(std::size_t i) const;
    const SqlValue& at(std::size_t i) const { return _values.at(i); }

private:
    std::vector<SqlValue> _values;
};

/// A migration step. `statements` run in order, in one transaction, once per store.
struct Migration {
    int version;
    std::vector<std::string> statements;
};

/// SQL access inside a transaction (same methods as Store, bound to one session).
class StoreTx {
public:
    virtual ~StoreTx() = default;
    /// Runs a statement; returns the number of affected rows.
    virtual std::int64_t execute(const std::string& sql, const SqlParams& params = {}) = 0;
    /// Runs `sql` once per row of parameters, in order. On SQLite the statement is prepared
    /// once for rows whose parameters have the same types, so many small rows cost far less
    /// than as many execute() calls (or one long multi-row INSERT, parsed again every time).
    /// On PostgreSQL each row is still one round trip to the server: there, prefer one
    /// multi-row statement.
    virtual void executeEach(const std::string& sql, std::vector<SqlParams> rows) = 0;
    virtual std::vector<SqlRow> query(const std::string& sql, const SqlParams& params = {}) = 0;
};

/// Batches high-rate updates (params are checked with checkSqlParams): put() replaces the pending
/// parameters for a key in memory; a background flush runs the statement once per pending key, all
/// in one transaction, at most `store.flush_interval` later. Stopping the store flushes what is
/// left.
class WriteBehind {
public:
    virtual ~WriteBehind() = default;
    virtual void put(const std::string& key, SqlParams params) = 0;
    /// Drops a pending update (e.g. the row was deleted).
    virtual void discard(const std::string& key) = 0;
    /// Writes everything pending now.
    virtual void flush() = 0;
    virtual std::size_t pending() const = 0;
};

class Store {
public:
    virtual ~Store() = default;
    /// "sqlite" or "postgresql".
    virtual std::string backend() const = 0;
    /// Applies the owner's migrations newer than its recorded version, in order. Throws
    /// StoreError naming the owner and version on failure (that step is rolled back).
    virtual void migrate(const std::string& owner, const std::vector<Migration>& migrations) = 0;
    /// The owner's applied schema version (0 if none).
    virtual int schemaVersion(const std::string& owner) = 0;
    /// Runs one statement in its own transaction (durable on return).
    virtual std::int64_t execute(const std::string& sql, const SqlParams& params = {}) = 0;
    virtual std::vector<SqlRow> query(const std::string& sql, const SqlParams& params = {}) = 0;
    /// Runs `fn` in one transaction: committed if it returns, rolled back if it throws.
    virtual void transaction(const std::function<void(StoreTx&)>& fn) = 0;
    /// A write-behind batcher running `sql` with each key's latest params. The name shows in
    /// logs and metrics.
    virtual std::shared_ptr<WriteBehind> writeBehind(const std::string& name,
                                                     const std::string& sql) = 0;
};

}  // namespace switchboard
