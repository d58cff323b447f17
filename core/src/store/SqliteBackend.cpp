// The SQLite backend (see SqliteBackend.h).
#include "store/SqliteBackend.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "switchboard/Store.h"

namespace switchboard {

namespace {
constexpr std::size_t kBusyTimeoutSeconds = 5;

/// SQLite's busy handler (`count`: how often it ran for this wait): tries again every
/// millisecond until kBusyTimeoutSeconds have passed, then lets SQLITE_BUSY through.
int waitBusy(void*, int count) {
    thread_local std::chrono::steady_clock::time_point started;
    auto now = std::chrono::steady_clock::now();
    if (count == 0) {
        started = now;
    }
    if (now - started >= std::chrono::seconds(kBusyTimeoutSeconds)) {
        return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 1;
}
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
    // The same timeout, waited out in 1 ms steps: SQLite's own handler sleeps 5, 10, 15, 20 ms
    // in turn, so a writer held back by a 20 ms checkpoint slept up to 50.
    sqlite3_busy_handler(Poco::Data::SQLite::Utility::dbHandle(session), waitBusy, nullptr);
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
    // Checkpoints run only from the store's maintenance thread (maintain()), never inside a
    // commit: a writer that checkpoints copies the WAL into the database and fsyncs both files
    // while its callers wait (tens of ms on this kind of disk).
    session << "PRAGMA wal_autocheckpoint=0", Poco::Data::Keywords::now;
    session << "PRAGMA journal_size_limit=67108864", Poco::Data::Keywords::now;
    session << "PRAGMA foreign_keys=ON", Poco::Data::Keywords::now;
}

void SqliteBackend::maintain(Poco::Data::Session& session) {
    // A passive checkpoint copies what it can without waiting for anyone; the writer keeps
    // committing beside it. Under continuous writes it never quite catches up, so the WAL could
    // not start over and would grow without end: past kRestartPages a RESTART checkpoint copies
    // the little that is left while it holds writers back, and the next commit starts the WAL
    // from its beginning.
    constexpr int kRestartPages = 8192;  // 32 MiB of WAL
    int busy = 0;
    int walPages = 0;
    int copied = 0;
    session << "PRAGMA wal_checkpoint(PASSIVE)", Poco::Data::Keywords::into(busy),
        Poco::Data::Keywords::into(walPages), Poco::Data::Keywords::into(copied),
        Poco::Data::Keywords::now;
    if (walPages >= kRestartPages) {
        session << "PRAGMA wal_checkpoint(RESTART)", Poco::Data::Keywords::into(busy),
            Poco::Data::Keywords::into(walPages), Poco::Data::Keywords::into(copied),
            Poco::Data::Keywords::now;
    }
}

}  // namespace switchboard
