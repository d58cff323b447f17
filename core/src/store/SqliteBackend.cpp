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
    session << "PRAGMA foreign_keys=ON", Poco::Data::Keywords::now;
}

}  // namespace switchboard
