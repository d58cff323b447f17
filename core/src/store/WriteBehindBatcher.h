// The WriteBehind implementation: the latest parameters per key wait in memory until a flush
// hands them to the batcher's sink (the store), which writes them in one transaction.
#pragma once

#include <mutex>
#include <string>
#include <unordered_set>

#include "store/BatchWriter.h"
#include "switchboard/Store.h"

namespace switchboard {

/// One batcher per writeBehind() call, holding memory only. Its owner (DataStore, whose
/// flusher thread flushes it) gives it a Sink that writes batches; callers hold a shared_ptr
/// for put()/discard(). put() is the hot path: one mutex and one map assignment, never I/O.
/// Once detached (the store closed) put() still records and flush() throws StoreError.
class WriteBehindBatcher : public WriteBehind {
public:
    using Pending = PendingRows;

    /// Where a flush goes.
    class Sink {
    public:
        virtual ~Sink() = default;
        /// Runs `sql` for every entry of `rows`, durably and all-or-nothing, or throws
        /// StoreError.
        virtual void writeBatch(const std::string& sql, const Pending& rows) = 0;
    };

    /// `sink` must stay valid until detach().
    WriteBehindBatcher(Sink& sink, std::string name, std::string sql);

    void put(const std::string& key, SqlParams params) override;
    void discard(const std::string& key) override;
    /// Writes everything pending now. On failure logs a warning, keeps the entries for the
    /// next flush (unless a newer put/discard for the key came meanwhile) and rethrows.
    void flush() override;
    std::size_t pending() const override;

    const std::string& name() const { return _name; }
    const std::string& sql() const { return _sql; }
    /// Called by the sink's owner when it closes: later flushes throw instead of touching it.
    void detach();

    /// What the store's flush round took from one batcher: its rows, and the batcher's flush
    /// lock, held until settle() so no other flush of it can overtake this one.
    struct Taken {
        std::unique_lock<std::mutex> lock;
        Pending rows;
    };
    /// For the store's flush round, which writes several batchers in one transaction: moves
    /// everything pending into `taken`. False (and nothing held) if nothing is pending or the
    /// batcher is detached.
    bool take(Taken& taken);
    /// Ends a take(): `error` empty when the rows were written, else the rows are kept for the
    /// next flush (as flush() does on failure) and `error` is logged.
    void settle(Taken& taken, const std::string& error);

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
    Sink* _sink;  ///< guarded by _flushMutex; null once detached
};

}  // namespace switchboard
