// KeyValueStore over the Store service: one table `lua_kv` (owner "lua"), one row per key.
#pragma once

#include "store/KeyValueStore.h"
#include "switchboard/Store.h"

namespace switchboard {

/// The Lua `store.*` table kept in SQL. Owned by the host next to the LuaEngine; the Store must
/// outlive it. Thread safety is the Store's (each method is one statement).
class SqlKeyValueStore : public KeyValueStore {
public:
    /// Applies the "lua" migrations (creates `lua_kv`). Throws StoreError if they fail.
    explicit SqlKeyValueStore(Store& store);
    std::optional<std::string> get(const std::string& key) override;
    void put(const std::string& key, const std::string& jsonValue) override;
    void remove(const std::string& key) override;

private:
    Store& _store;
};

}  // namespace switchboard
