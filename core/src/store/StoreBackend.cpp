// store.url -> backend (see StoreBackend.h): the one place that knows every backend's scheme.
#include "store/StoreBackend.h"

#include "store/PostgresBackend.h"
#include "store/SqliteBackend.h"
#include "switchboard/Store.h"

namespace switchboard {

std::unique_ptr<StoreBackend> openBackend(const std::string& url, const std::string& baseDir) {
    if (url.rfind("sqlite:", 0) == 0) {
        return std::make_unique<SqliteBackend>(url.substr(7), baseDir);
    }
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
        return std::make_unique<PostgresBackend>(url);
    }
    throw StoreError("store.url: unsupported scheme in '" + url +
                     "' (expected sqlite:<path> or postgresql://...)");
}

}  // namespace switchboard
