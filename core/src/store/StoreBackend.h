// What differs between the databases behind the Store: connector, session set-up, pool size and
// how writers are serialised. DataStore does everything else the same way for every backend; a
// PostgreSQL backend is a sibling of SqliteBackend.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace Poco::Data {
class Session;
}

namespace switchboard {

/// One database, as DataStore opens it. Created by openBackend() from store.url and owned by
/// the DataStore for its whole life.
class StoreBackend {
public:
    virtual ~StoreBackend() = default;

    /// "sqlite" or "postgresql": what Store::backend() reports.
    virtual std::string name() const = 0;
    /// The Poco::Data connector key (registered by the backend) and what it opens.
    virtual std::string connector() const = 0;
    virtual std::string connectionString() const = 0;
    /// Where the database is, for messages: a file path, or host and database (never a password).
    virtual std::string location() const = 0;
    /// Seconds the connector may retry a failing first open (0: fail at once).
    virtual std::size_t openTimeout() const = 0;
    /// Sessions in the pool; more concurrent callers wait for one.
    virtual std::size_t poolSize() const = 0;
    /// Runs on every new pooled session (pragmas, timeouts). Throws Poco::Exception on failure.
    virtual void setupSession(Poco::Data::Session& session) = 0;
    /// The write-serialisation policy: true when the database takes one writer at a time, so
    /// the store lets its writers (execute, transaction, migrate, write-behind flushes, and
    /// query() of anything but a plain SELECT) take turns instead of waiting on the database's
    /// own lock. SQLite allows one writer per database file; PostgreSQL orders concurrent
    /// writers itself.
    virtual bool singleWriter() const = 0;
    /// How often DataStore runs maintain() on a pooled session from a thread of its own
    /// (0: never).
    virtual std::chrono::milliseconds maintenanceInterval() const {
        return std::chrono::milliseconds(0);
    }
    /// Periodic upkeep that must not run on a writer's thread (SQLite: the WAL checkpoint).
    /// Throws Poco::Exception on failure (logged; the next round tries again).
    virtual void maintain(Poco::Data::Session& session) { (void)session; }
    /// Whether the database accepts a connection now, without POCO (its PostgreSQL connector
    /// leaks the connection object of every failed connect, so the store asks this first
    /// while the database is away). False with the reason in `error`.
    virtual bool probe(std::string& error) {
        (void)error;
        return true;
    }
};

/// The backend for a store.url: "sqlite:<path>" (a relative path resolves against `baseDir`,
/// parent directories are created) or "postgresql://..." (see PostgresBackend). Throws
/// StoreError: "store.url: unsupported scheme in '<url>' (expected sqlite:<path> or
/// postgresql://...)" for unknown schemes, a message naming the wrong part of a postgresql URL,
/// and one naming the path and reason when a directory cannot be created.
std::unique_ptr<StoreBackend> openBackend(const std::string& url, const std::string& baseDir);

}  // namespace switchboard
