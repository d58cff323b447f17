// The key-value table behind the Lua `store.*` API: JSON text per key, namespaced by owner.
// SqlKeyValueStore implements it over the Store service; tests use an in-memory map.
#pragma once

#include <optional>
#include <string>

namespace switchboard {

/// A string-keyed table of JSON texts. Implementations must be safe to call from several
/// threads at once (every worker thread's Lua state uses the same instance). Methods may throw
/// (e.g. StoreError); the Lua API turns that into a Lua error for the calling script.
class KeyValueStore {
public:
    virtual ~KeyValueStore() = default;
    /// The JSON text stored under `key`, or nothing.
    virtual std::optional<std::string> get(const std::string& key) = 0;
    /// Stores `jsonValue` (JSON text) under `key`, replacing any previous value.
    virtual void put(const std::string& key, const std::string& jsonValue) = 0;
    /// Removes `key`; does nothing if it is absent.
    virtual void remove(const std::string& key) = 0;
};

}  // namespace switchboard
