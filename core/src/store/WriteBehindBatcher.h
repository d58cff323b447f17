// The WriteBehind implementation: the latest parameters per key wait in memory until a flush
// writes them through DataStore in one transaction.
#pragma once

#include "switchboard/Store.h"

#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace switchboard {

class DataStore;

/// One batcher per writeBehind() call. DataStore owns it (and its flusher thread flushes it);
/// callers hold a shared_ptr for put()/discard(). put() is the hot path: one mutex and one map
/// assignment, never I/O. After DataStore::close() the batcher is detached: put() still
/// records, flush() throws StoreError.
class WriteBehindBatcher : public WriteBehind {
public:
    using Pending = std::unordered_map<std::string, SqlParams>;

    WriteBehindBatcher(DataStore& store, std::string name, std::string sql);

    void put(const std::string& key, SqlParams params) override;
    void discard(const std::string& key) override;
    /// Writes everything pending now. On failure logs a warning, keeps the entries for the
    /// next flush (unless a newer put/discard for the key came meanwhile) and rethrows.
    void flush() override;
    std::size_t pending() const override;

    const std::string& name() const { return _name; }
    /// Called by DataStore::close(): later flushes throw instead of touching a closed store.
    void detach();

private:
    void restore(Pending& batch);

    const std::string _name;
    const std::string _sql;
    mutable std::mutex _mutex;  ///< guards _pending, _discarded, _flushing
    Pending _pending;
    /// Keys discarded while a flush is in flight: a failed batch must not bring them back.
    std::unordered_set<std::string> _discarded;
    bool _flushing = false;
    /// Serialises whole flushes so an older batch can never be written after a newer one.
    std::mutex _flushMutex;
    DataStore* _store;  ///< guarded by _flushMutex; null once detached
};

}  // namespace switchboard
