// The SQLite backend (see SqliteBackend.h).
#include "store/SqliteBackend.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <mutex>

#include "switchboard/Store.h"

namespace switchboard {

namespace {
constexpr std::size_t kBusyTimeoutSeconds = 5;
}  // namespace

SqliteBackend::SqliteBackend(const std::string& file, const std::string& baseDir) {
    if (file.empty()) {
        throw StoreError("store.url: 'sqlite:' needs a path, e.g. sqlite:var/switchboard.db");
    }
    Poco::Path base = baseDir.empty() ? Poco::Path::current() : Poco::Path::forDirectory(baseDir);
    _path = base.resolve(Poco::Path(file)).toString();
    std::string dir = Poco::Path(_path).parent().toString();
    if (dir.size() > 1 && dir.back() == Poco::Path::separator()) {
        dir.pop_back();
    }
    try {
        Poco::File(dir).createDirectories();
    } catch (const Poco::Exception& e) {
        throw StoreError("store: cannot create directory '" + dir + "' for the sqlite database '" +
                         _path + "': " + e.displayText());
    }
    static std::once_flag registered;
    std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
}

std::string SqliteBackend::connector() const {
    return Poco::Data::SQLite::Connector::KEY;
}

void SqliteBackend::setupSession(Poco::Data::Session& session) {
    // The SQLite busy timeout; Poco insists on std::size_t seconds here.
    session.setProperty("connectionTimeout", kBusyTimeoutSeconds);
    std::string mode;
    session << "PRAGMA journal_mode=WAL", Poco::Data::Keywords::into(mode),
        Poco::Data::Keywords::now;
    if (mode != "wal") {
        Poco::Logger::get("switchboard.store")
            .warning("store: journal_mode is '%s', not 'wal'; writers block readers", mode);
    }
    session << "PRAGMA synchronous=NORMAL", Poco::Data::Keywords::now;
    // Statement journals (a multi-row INSERT keeps the pages it changes, to undo a failed
    // statement) spill to a temporary file past 64 KiB: a batch of chat messages wrote every
    // page it touched twice more, into an unlinked file in /var/tmp. In memory they never spill.
    session << "PRAGMA temp_store=MEMORY", Poco::Data::Keywords::now;
    // A page cache of up to 16 MiB per connection (SQLite's default is 2 MiB): the chat's
    // conversation index alone has a hot page per conversation, and each miss is a pread.
    session << "PRAGMA cache_size=-16384", Poco::Data::Keywords::now;
    // Checkpoints run from the store's maintenance thread (maintain(), every 250 ms), so a
    // committing writer does not copy the WAL into the database and fsync it while its callers
    // wait (a chat commit that ran one stalled every message in it for tens of ms). A passive
    // checkpoint never waits for the writer, so one that keeps writing can stay ahead of it; past
    // 8,000 pages (32 MiB) of WAL the committing writer checkpoints the rest itself, which lets
    // the WAL start over. The WAL file is cut back to 64 MiB after a checkpoint.
    session << "PRAGMA wal_autocheckpoint=8000", Poco::Data::Keywords::now;
    session << "PRAGMA journal_size_limit=67108864", Poco::Data::Keywords::now;
    session << "PRAGMA foreign_keys=ON", Poco::Data::Keywords::now;
}

void SqliteBackend::maintain(Poco::Data::Session& session) {
    int busy = 0;
    int walPages = 0;
    int copied = 0;
    session << "PRAGMA wal_checkpoint(PASSIVE)", Poco::Data::Keywords::into(busy),
        Poco::Data::Keywords::into(walPages), Poco::Data::Keywords::into(copied),
        Poco::Data::Keywords::now;
}

}  // namespace switchboard
