// DataStore: the Store service over Poco::Data for any StoreBackend: a waiting session pool, the
// backend's write-serialisation policy, per-owner migrations and a flusher thread for
// write-behind batchers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/StoreBackend.h"
#include "store/WriteBehindBatcher.h"
#include "switchboard/Store.h"

namespace Poco::Data {
class Session;
}

namespace switchboard {

class MetricsRegistry;

/// The host's one Store. Created by the host at start, closed at stop; plugins see it as
/// `Store&`. Thread-safe: reads run concurrently on pooled sessions (callers wait for a free
/// session, never fail); writes (execute, transaction, migrate, flushes, and query() of
/// anything but a SELECT) take turns when the backend allows one writer at a time
/// (StoreBackend::singleWriter), the write-behind flusher first: it waits for the write in
/// progress only. Inside transaction(), use only the StoreTx: calling back into the Store for a
/// write from the same thread throws.
///
/// Write-behind: a flush round starts every flush interval, on a fixed schedule (a slow round
/// does not push the next one back), and writes what every batcher holds in one transaction,
/// each batcher in its own savepoint (one failing batcher keeps its rows for the next round,
/// the others are written). So an update put() at time t is committed by t + flush interval +
/// the time one round takes.
class DataStore : public Store, private WriteBehindBatcher::Sink {
public:
    struct Stats {
        std::uint64_t flushes;      ///< write-behind transactions committed
        std::uint64_t flushedRows;  ///< rows written by them
        std::uint64_t flushErrors;  ///< failed write-behind flushes (entries kept for retry)
        std::uint64_t pending;      ///< keys waiting in all batchers now
        std::uint64_t batchers;     ///< write-behind batchers alive
        double lastRoundSeconds;    ///< how long the latest flush round took (lock wait included)
        double maxRoundSeconds;     ///< the longest flush round so far
    };

    /// Opens the store at `url` (see openBackend(); relative paths resolve against baseDir).
    /// Throws StoreError naming the problem: a bad URL, or the location and reason when the
    /// database cannot be opened.
    static std::unique_ptr<DataStore> open(const std::string& url, const std::string& baseDir,
                                           std::chrono::milliseconds flushInterval);

    ~DataStore() override;
    DataStore(const DataStore&) = delete;
    DataStore& operator=(const DataStore&) = delete;

    /// Flushes every write-behind batcher, stops the flusher thread, waits for in-flight calls
    /// and closes the pool. Idempotent. Afterwards every call throws StoreError.
    void close();
    Stats stats() const;
    /// Registers the switchboard_store_* metrics (read from stats() at scrape time). The store
    /// must outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;
    /// False (and why in `reason`) when the database does not answer: for /readyz. Checks at
    /// most once a second (a cached answer in between) and never waits for a busy pool (busy
    /// sessions count as reachable). SQLite is always reachable once open.
    bool ready(std::string& reason);
    /// How many sessions the pool holds; more concurrent callers wait for one.
    std::size_t poolSize() const { return _poolSize; }

    std::string backend() const override;
    void migrate(const std::string& owner, const std::vector<Migration>& migrations) override;
    int schemaVersion(const std::string& owner) override;
    std::int64_t execute(const std::string& sql, const SqlParams& params = {}) override;
    std::vector<SqlRow> query(const std::string& sql, const SqlParams& params = {}) override;
    void transaction(const std::function<void(StoreTx&)>& fn) override;
    std::shared_ptr<WriteBehind> writeBehind(const std::string& name,
                                             const std::string& sql) override;

private:
    class Pool;
    class Lease;
    class WriteGate;
    class WriterLock;

    DataStore(std::unique_ptr<StoreBackend> backend, std::chrono::milliseconds flushInterval);
    /// WriteBehindBatcher::Sink: one transaction under the write lock, counted in stats() as a
    /// flush (or a flush error when it throws).
    void writeBatch(const std::string& sql, const WriteBehindBatcher::Pending& rows) override;
    void initialise();
    int readVersion(Poco::Data::Session& session, const std::string& owner);
    void applyStep(Poco::Data::Session& session, const std::string& owner, const Migration& step);
    void runFlusher();
    void runMaintainer();
    void flushAll();
    std::vector<std::shared_ptr<WriteBehindBatcher>> batchers() const;

    std::unique_ptr<StoreBackend> _backend;
    std::unique_ptr<WriteGate> _writeGate;  ///< null when the backend orders writers itself
    const std::size_t _poolSize;
    std::unique_ptr<Pool> _pool;

    /// Counting gate in front of the pool (SessionPool throws when exhausted; we wait).
    std::mutex _gateMutex;
    std::condition_variable _gateCond;
    std::size_t _freeSessions;
    bool _gateClosed = false;

    /// Drops batchers nobody but the store holds any more, once flushed.
    void pruneBatchers();
    mutable std::mutex _batchersMutex;  ///< guards _batchers and _closing
    std::vector<std::shared_ptr<WriteBehindBatcher>> _batchers;
    bool _closing = false;

    const std::chrono::milliseconds _flushInterval;
    std::mutex _flusherMutex;
    std::condition_variable _flusherCond;
    bool _stopFlusher = false;
    std::thread _flusher;
    std::thread _maintainer;  ///< StoreBackend::maintain(); stops with the flusher

    std::mutex _closeMutex;
    bool _closed = false;

    /// Set when a session could not be opened: later leases probe the backend first (at most
    /// every 250 ms, failing fast in between) instead of letting the pool connect.
    std::atomic<bool> _unreachable{false};
    std::mutex _probeMutex;
    std::chrono::steady_clock::time_point _probedAt{};
    std::string _probeError;
    /// Throws StoreError while the backend does not answer its probe; clears _unreachable.
    void checkReachable();

    std::mutex _readyMutex;
    std::chrono::steady_clock::time_point _readyCheckedAt{};
    bool _readyOk = true;
    std::string _readyReason;

    std::atomic<std::uint64_t> _flushes{0};
    std::atomic<std::uint64_t> _flushedRows{0};
    std::atomic<std::uint64_t> _flushErrors{0};
    std::atomic<std::int64_t> _lastRoundMicros{0};
    std::atomic<std::int64_t> _maxRoundMicros{0};
};

}  // namespace switchboard
