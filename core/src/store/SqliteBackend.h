// The embedded SQLite backend of the Store: one database file in WAL mode, one writer at a time.
#pragma once

#include "store/StoreBackend.h"

namespace switchboard {

class SqliteBackend : public StoreBackend {
public:
    /// `file` as written after "sqlite:"; a relative path resolves against `baseDir`. Creates
    /// the parent directories. Throws StoreError if `file` is empty or a directory cannot be
    /// created.
    SqliteBackend(const std::string& file, const std::string& baseDir);

    std::string name() const override { return "sqlite"; }
    std::string connector() const override;
    std::string connectionString() const override { return _path; }
    std::string location() const override { return _path; }
    /// A failing SQLite open is never transient (bad path, permissions): no retry window.
    std::size_t openTimeout() const override { return 0; }
    std::size_t poolSize() const override { return 8; }
    /// Busy timeout (a 1 ms busy handler), journal_mode=WAL (a warning if the file system
    /// refuses it), synchronous=NORMAL, temp_store=MEMORY, a 16 MiB page cache, no checkpoints
    /// in commits (wal_autocheckpoint=0), journal_size_limit 64 MiB, foreign_keys=ON.
    void setupSession(Poco::Data::Session& session) override;
    bool singleWriter() const override { return true; }
    /// A passive WAL checkpoint every 250 ms, a RESTART one past 32 MiB of WAL (see maintain()).
    std::chrono::milliseconds maintenanceInterval() const override {
        return std::chrono::milliseconds(250);
    }
    void maintain(Poco::Data::Session& session) override;

private:
    std::string _path;
};

}  // namespace switchboard
