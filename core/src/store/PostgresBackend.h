// The PostgreSQL backend of the Store: a pool of libpq connections through POCO's DataPostgreSQL,
// writers ordered by PostgreSQL itself (no process-wide write lock), so several nodes can share
// one database.
#pragma once

#include <cstddef>
#include <string>

#include "store/StoreBackend.h"

namespace switchboard {

class PostgresBackend : public StoreBackend {
public:
    /// Parses `url`: postgresql://[user[:password]@]host[:port]/database[?key=value&...] (also
    /// postgres://). Percent-escapes in user, password and database are decoded. Query keys:
    /// `schema` (search_path for every session; created if missing), `pool_size` (1..256,
    /// default 8), `connect_timeout` (seconds, default 5), `sslmode` (libpq's values). Throws
    /// StoreError naming the part that is wrong; messages never contain the password.
    explicit PostgresBackend(const std::string& url);

    std::string name() const override { return "postgresql"; }
    std::string connector() const override;
    std::string connectionString() const override;
    /// "postgresql://user@host:port/database" (never the password).
    std::string location() const override;
    std::size_t openTimeout() const override { return _connectTimeout; }
    std::size_t poolSize() const override { return _poolSize; }
    /// Sets search_path when a schema is configured (creating the schema first).
    void setupSession(Poco::Data::Session& session) override;
    bool singleWriter() const override { return false; }
    /// A libpq connection opened and closed again (PQfinish, which POCO skips on failure).
    bool probe(std::string& error) override;

    const std::string& schema() const { return _schema; }

private:
    std::string _user;
    std::string _password;
    std::string _host;
    int _port = 5432;
    std::string _database;
    std::string _schema;
    std::string _sslmode;
    std::size_t _poolSize = 8;
    std::size_t _connectTimeout = 5;
};

}  // namespace switchboard
