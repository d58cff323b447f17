// KeyValueStore over the Store service (see SqlKeyValueStore.h).
#include "store/SqlKeyValueStore.h"

namespace switchboard {

SqlKeyValueStore::SqlKeyValueStore(Store& store) : _store(store) {
    _store.migrate("lua",
                   {{1, {"CREATE TABLE lua_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)"}}});
}

std::optional<std::string> SqlKeyValueStore::get(const std::string& key) {
    std::vector<SqlRow> rows = _store.query("SELECT value FROM lua_kv WHERE key = $1", {key});
    if (rows.empty()) {
        return std::nullopt;
    }
    // Read the variant directly: the column is TEXT NOT NULL, so anything else is a bug.
    if (const auto* text = std::get_if<std::string>(&rows.front().at(0))) {
        return *text;
    }
    throw StoreError("lua_kv.value for key '" + key + "' is not text");
}

void SqlKeyValueStore::put(const std::string& key, const std::string& jsonValue) {
    _store.execute(
        "INSERT INTO lua_kv (key, value) VALUES ($1, $2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        {key, jsonValue});
}

void SqlKeyValueStore::remove(const std::string& key) {
    _store.execute("DELETE FROM lua_kv WHERE key = $1", {key});
}

}  // namespace switchboard
