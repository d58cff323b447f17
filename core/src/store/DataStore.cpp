// DataStore (see DataStore.h): pooled sessions behind a waiting gate, the backend's write lock,
// migrations, and the write-behind flusher thread.
#include "store/DataStore.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <optional>

#include "services/MetricsRegistry.h"
#include "store/BatchWriter.h"
#include "store/SqlStatement.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

using Poco::Data::Session;

namespace {

constexpr const char* kUpsertVersion =
    "INSERT INTO schema_migrations (owner, version) VALUES ($1, $2) "
    "ON CONFLICT (owner) DO UPDATE SET version = excluded.version";

/// The thread's store whose write mutex it holds, to turn self-deadlock into an error.
thread_local const DataStore* tlsWriter = nullptr;

Poco::Logger& logger() {
    return Poco::Logger::get("switchboard.store");
}

class SessionTx : public StoreTx {
public:
    explicit SessionTx(Session& session) : _session(session) {}
    std::int64_t execute(const std::string& sql, const SqlParams& params) override {
        return runExecute(_session, sql, params);
    }
    void executeEach(const std::string& sql, std::vector<SqlParams> rows) override {
        for (const SqlParams& row : rows) {
            checkSqlParams(row);
        }
        try {
            writeRows(_session, sql, std::move(rows));
        } catch (const Poco::Exception& e) {
            throw StoreError(e.displayText());
        }
    }
    std::vector<SqlRow> query(const std::string& sql, const SqlParams& params) override {
        return runQuery(_session, sql, params);
    }

private:
    Session& _session;
};

}  // namespace

/// A SessionPool that prepares every new session for its backend (pragmas, busy timeout).
class DataStore::Pool : public Poco::Data::SessionPool {
public:
    explicit Pool(StoreBackend& backend)
        : SessionPool(backend.connector(), backend.connectionString(), 1,
                      static_cast<int>(backend.poolSize())),
          _backend(backend) {}

protected:
    void customizeSession(Session& session) override { _backend.setupSession(session); }

private:
    StoreBackend& _backend;
};

/// One borrowed session. Waits at the gate for a free slot, so pool.get() never finds the pool
/// exhausted; the session goes back before the slot is released.
class DataStore::Lease {
public:
    explicit Lease(DataStore& store) : _store(store) {
        std::unique_lock<std::mutex> lock(store._gateMutex);
        store._gateCond.wait(lock, [&] { return store._gateClosed || store._freeSessions > 0; });
        if (store._gateClosed) {
            throw StoreError("store: the store is closed");
        }
        --store._freeSessions;
        lock.unlock();
        try {
            if (store._unreachable) {
                store.checkReachable();
            }
            _session.emplace(store._pool->get());
        } catch (const Poco::Exception& e) {
            store._unreachable = true;
            release();
            throw StoreError("store: no session for " + store._backend->location() + ": " +
                             e.displayText());
        } catch (const StoreError&) {
            release();
            throw;
        }
    }
    ~Lease() {
        _session.reset();
        release();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Session& session() { return *_session; }

private:
    void release() {
        {
            std::lock_guard<std::mutex> lock(_store._gateMutex);
            ++_store._freeSessions;
        }
        _store._gateCond.notify_one();
    }

    DataStore& _store;
    std::optional<Session> _session;
};

/// Turns for writers of a single-writer backend. The flusher goes first: it waits only for
/// the write in progress, never behind a queue of request threads (an unfair mutex let request
/// threads barge ahead of it for seconds under load, and write-behind updates waited that long).
class DataStore::WriteGate {
public:
    void lock(bool flusher) {
        std::unique_lock<std::mutex> lock(_mutex);
        if (flusher) {
            ++_flushersWaiting;
            _flusherTurn.wait(lock, [&] { return !_held; });
            --_flushersWaiting;
        } else {
            _writerTurn.wait(lock, [&] { return !_held && _flushersWaiting == 0; });
        }
        _held = true;
    }
    void unlock() {
        std::lock_guard<std::mutex> lock(_mutex);
        _held = false;
        if (_flushersWaiting > 0) {
            _flusherTurn.notify_one();
        } else {
            _writerTurn.notify_one();
        }
    }

private:
    std::mutex _mutex;
    std::condition_variable _flusherTurn;
    std::condition_variable _writerTurn;
    bool _held = false;
    int _flushersWaiting = 0;
};

/// A writer's turn, if the backend needs turns. Take it before a Lease so waiting writers hold
/// no session.
class DataStore::WriterLock {
public:
    explicit WriterLock(DataStore& store, bool flusher = false) {
        if (tlsWriter == &store) {
            throw StoreError("store: write from inside transaction(); use its StoreTx instead");
        }
        if (store._writeGate) {
            store._writeGate->lock(flusher);
            _gate = store._writeGate.get();
        }
        _previous = tlsWriter;
        tlsWriter = &store;
    }
    ~WriterLock() {
        tlsWriter = _previous;
        if (_gate != nullptr) {
            _gate->unlock();
        }
    }
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    WriteGate* _gate = nullptr;
    const DataStore* _previous = nullptr;  ///< another store's writer on this thread, if any
};

std::unique_ptr<DataStore> DataStore::open(const std::string& url, const std::string& baseDir,
                                           std::chrono::milliseconds flushInterval) {
    std::unique_ptr<DataStore> store(new DataStore(openBackend(url, baseDir), flushInterval));
    store->initialise();
    return store;
}

DataStore::DataStore(std::unique_ptr<StoreBackend> backend, std::chrono::milliseconds flushInterval)
    : _backend(std::move(backend)),
      _writeGate(_backend->singleWriter() ? std::make_unique<WriteGate>() : nullptr),
      _poolSize(_backend->poolSize()),
      _freeSessions(_poolSize),
      _flushInterval(flushInterval) {}

DataStore::~DataStore() {
    try {
        close();
    } catch (const std::exception& e) {
        logger().error("store: close failed: %s", std::string(e.what()));
    }
}

void DataStore::checkReachable() {
    std::lock_guard<std::mutex> lock(_probeMutex);
    if (!_unreachable) {
        return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - _probedAt >= std::chrono::milliseconds(250)) {
        _probedAt = now;
        std::string error;
        if (_backend->probe(error)) {
            _unreachable = false;
            return;
        }
        _probeError = error;
    }
    throw StoreError("store: no session for " + _backend->location() + ": " + _probeError);
}

void DataStore::initialise() {
    std::string unreachable;
    if (!_backend->probe(unreachable)) {
        throw StoreError("store: cannot open " + _backend->location() + ": " + unreachable);
    }
    try {
        // Open one session directly first: the pool would retry a failing open for 60 s.
        Session(_backend->connector(), _backend->connectionString(), _backend->openTimeout())
            .close();
        _pool = std::make_unique<Pool>(*_backend);
        Lease lease(*this);
        runExecute(lease.session(),
                   "CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(owner TEXT PRIMARY KEY, version BIGINT NOT NULL)",
                   {});
    } catch (const Poco::Exception& e) {
        throw StoreError("store: cannot open " + _backend->location() + ": " + e.displayText());
    } catch (const StoreError& e) {
        throw StoreError("store: cannot open " + _backend->location() + ": " + e.what());
    }
    _flusher = std::thread([this] {
        nameThisThread("sb-store-flush");
        runFlusher();
    });
    if (_backend->maintenanceInterval().count() > 0) {
        _maintainer = std::thread([this] {
            nameThisThread("sb-store-maint");
            runMaintainer();
        });
    }
}

void DataStore::close() {
    std::lock_guard<std::mutex> closeLock(_closeMutex);
    if (_closed) {
        return;
    }
    _closed = true;
    {
        // No new batchers from here on, so every one gets its final flush and detach.
        std::lock_guard<std::mutex> lock(_batchersMutex);
        _closing = true;
    }
    {
        std::lock_guard<std::mutex> lock(_flusherMutex);
        _stopFlusher = true;
    }
    _flusherCond.notify_all();
    if (_flusher.joinable()) {
        _flusher.join();
    }
    if (_maintainer.joinable()) {
        _maintainer.join();
    }
    flushAll();
    for (const auto& batcher : batchers()) {
        batcher->detach();
    }
    std::unique_lock<std::mutex> gate(_gateMutex);
    _gateClosed = true;
    _gateCond.notify_all();
    // In-flight calls finish on their sessions before the pool goes away.
    _gateCond.wait(gate, [this] { return _freeSessions == _poolSize; });
    gate.unlock();
    _pool.reset();
}

DataStore::Stats DataStore::stats() const {
    std::uint64_t pending = 0;
    std::vector<std::shared_ptr<WriteBehindBatcher>> all = batchers();
    for (const auto& batcher : all) {
        pending += batcher->pending();
    }
    return {_flushes.load(),
            _flushedRows.load(),
            _flushErrors.load(),
            pending,
            all.size(),
            static_cast<double>(_lastRoundMicros.load()) / 1e6,
            static_cast<double>(_maxRoundMicros.load()) / 1e6};
}

void DataStore::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        Stats s = stats();
        out +=
            "# HELP switchboard_store_flushes_total Write-behind flushes\n"
            "# TYPE switchboard_store_flushes_total counter\nswitchboard_store_flushes_total " +
            std::to_string(s.flushes) + "\n";
        out +=
            "# HELP switchboard_store_flush_errors_total Write-behind flushes that failed\n"
            "# TYPE switchboard_store_flush_errors_total counter\n"
            "switchboard_store_flush_errors_total " +
            std::to_string(s.flushErrors) + "\n";
        out +=
            "# HELP switchboard_store_pending Write-behind updates not yet written\n"
            "# TYPE switchboard_store_pending gauge\nswitchboard_store_pending " +
            std::to_string(s.pending) + "\n";
        out +=
            "# HELP switchboard_store_flush_round_seconds Duration of the latest write-behind "
            "flush round (waiting for the write lock included)\n"
            "# TYPE switchboard_store_flush_round_seconds gauge\n"
            "switchboard_store_flush_round_seconds " +
            std::to_string(s.lastRoundSeconds) + "\n";
        out +=
            "# HELP switchboard_store_flush_round_seconds_max The longest flush round since "
            "start: a write-behind update is written at most flush_interval plus this late\n"
            "# TYPE switchboard_store_flush_round_seconds_max gauge\n"
            "switchboard_store_flush_round_seconds_max " +
            std::to_string(s.maxRoundSeconds) + "\n";
    });
}

bool DataStore::ready(std::string& reason) {
    if (!_backend->poolSize() || _backend->singleWriter()) {
        return true;  // an open SQLite file does not go away
    }
    std::lock_guard<std::mutex> lock(_readyMutex);
    auto now = std::chrono::steady_clock::now();
    if (now - _readyCheckedAt >= std::chrono::seconds(1)) {
        _readyCheckedAt = now;
        bool free = false;
        {
            std::lock_guard<std::mutex> gate(_gateMutex);
            free = !_gateClosed && _freeSessions > 0;
        }
        if (free) {
            try {
                Lease lease(*this);
                try {
                    runQuery(lease.session(), "SELECT 1", {});
                } catch (const StoreError&) {
                    // A session broken by a database restart fails once (POCO-NOTES.md §4);
                    // the retry gets a fresh one.
                    Lease again(*this);
                    runQuery(again.session(), "SELECT 1", {});
                }
                _readyOk = true;
            } catch (const std::exception& e) {
                _readyOk = false;
                _readyReason = "store: " + _backend->location() + " unreachable: " + e.what();
            }
        }
    }
    if (!_readyOk) {
        reason = _readyReason;
    }
    return _readyOk;
}

std::string DataStore::backend() const {
    return _backend->name();
}

void DataStore::migrate(const std::string& owner, const std::vector<Migration>& migrations) {
    std::vector<const Migration*> steps;
    for (const Migration& m : migrations) {
        steps.push_back(&m);
    }
    std::sort(steps.begin(), steps.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (steps[i]->version < 1 || (i > 0 && steps[i]->version == steps[i - 1]->version)) {
            throw StoreError("migration " + owner + " v" + std::to_string(steps[i]->version) +
                             " failed: versions must be unique and start at 1");
        }
    }
    WriterLock writer(*this);
    Lease lease(*this);
    const int current = readVersion(lease.session(), owner);
    for (const Migration* step : steps) {
        if (step->version > current) {
            applyStep(lease.session(), owner, *step);
        }
    }
}

void DataStore::applyStep(Session& session, const std::string& owner, const Migration& step) {
    const std::string what = "migration " + owner + " v" + std::to_string(step.version);
    try {
        Poco::Data::Transaction tx(session);
        for (const std::string& sql : step.statements) {
            runExecute(session, sql, {});
        }
        runExecute(session, kUpsertVersion, {owner, std::int64_t{step.version}});
        tx.commit();
    } catch (const Poco::Exception& e) {
        throw StoreError(what + " failed: " + e.displayText());
    } catch (const StoreError& e) {
        throw StoreError(what + " failed: " + e.what());
    }
    logger().information("store: %s applied", what);
}

int DataStore::schemaVersion(const std::string& owner) {
    Lease lease(*this);
    return readVersion(lease.session(), owner);
}

int DataStore::readVersion(Session& session, const std::string& owner) {
    auto rows =
        runQuery(session, "SELECT version FROM schema_migrations WHERE owner = $1", {owner});
    return rows.empty() ? 0 : static_cast<int>(rows.front().getInt(0));
}

std::int64_t DataStore::execute(const std::string& sql, const SqlParams& params) {
    // Autocommit: the statement is its own transaction, committed (WAL) before we return.
    WriterLock writer(*this);
    Lease lease(*this);
    return runExecute(lease.session(), sql, params);
}

std::vector<SqlRow> DataStore::query(const std::string& sql, const SqlParams& params) {
    if (isPlainSelect(sql)) {
        {
            Lease lease(*this);
            try {
                return runQuery(lease.session(), sql, params);
            } catch (const StoreError&) {
                // A pooled PostgreSQL session whose server restarted fails its first statement
                // and only then knows it is disconnected (POCO-NOTES.md §4): a read is safe to
                // run again on a fresh session. Writes are not retried (they may have landed).
                if (lease.session().isConnected()) {
                    throw;
                }
            }
        }
        Lease lease(*this);
        return runQuery(lease.session(), sql, params);
    }
    WriterLock writer(*this);
    Lease lease(*this);
    return runQuery(lease.session(), sql, params);
}

void DataStore::transaction(const std::function<void(StoreTx&)>& fn) {
    WriterLock writer(*this);
    Lease lease(*this);
    SessionTx access(lease.session());
    try {
        Poco::Data::Transaction tx(lease.session());
        fn(access);  // a throw skips commit(): tx's destructor rolls back
        tx.commit();
    } catch (const Poco::Exception& e) {
        throw StoreError(e.displayText());
    }
}

std::shared_ptr<WriteBehind> DataStore::writeBehind(const std::string& name,
                                                    const std::string& sql) {
    std::lock_guard<std::mutex> lock(_batchersMutex);
    if (_closing) {
        throw StoreError("write-behind '" + name + "': the store is closed");
    }
    auto batcher = std::make_shared<WriteBehindBatcher>(static_cast<Sink&>(*this), name, sql);
    _batchers.push_back(batcher);
    return batcher;
}

void DataStore::writeBatch(const std::string& sql, const WriteBehindBatcher::Pending& rows) {
    try {
        WriterLock writer(*this);
        Lease lease(*this);
        Poco::Data::Transaction tx(lease.session());
        switchboard::writeBatch(lease.session(), sql, rows);
        tx.commit();
    } catch (const Poco::Exception& e) {
        ++_flushErrors;
        throw StoreError(e.displayText());
    } catch (const StoreError&) {
        ++_flushErrors;
        throw;
    }
    ++_flushes;
    _flushedRows += rows.size();
}

void DataStore::runMaintainer() {
    const auto interval = _backend->maintenanceInterval();
    std::unique_lock<std::mutex> lock(_flusherMutex);
    while (!_flusherCond.wait_for(lock, interval, [this] { return _stopFlusher; })) {
        lock.unlock();
        try {
            Lease lease(*this);  // not a writer's turn: SQLite checkpoints beside the writer
            _backend->maintain(lease.session());
        } catch (const std::exception& e) {
            logger().debug("store: maintenance of %s failed (next round in %d ms): %s",
                           _backend->location(), static_cast<int>(interval.count()),
                           std::string(e.what()));
        }
        lock.lock();
    }
}

void DataStore::runFlusher() {
    // Rounds start on a fixed schedule: waiting a whole interval after a round ends would add
    // the round's own duration to every update's wait.
    auto next = std::chrono::steady_clock::now() + _flushInterval;
    std::unique_lock<std::mutex> lock(_flusherMutex);
    while (!_flusherCond.wait_until(lock, next, [this] { return _stopFlusher; })) {
        lock.unlock();
        flushAll();
        pruneBatchers();
        lock.lock();
        next += _flushInterval;
        auto now = std::chrono::steady_clock::now();
        if (next < now) {
            next = now;  // a round longer than the interval: the next one starts at once
        }
    }
}

void DataStore::pruneBatchers() {
    // A batcher only the store still holds belongs to a stopped plugin instance (e.g. replaced
    // by a reload): once it has nothing pending, drop it instead of keeping it forever.
    std::lock_guard<std::mutex> lock(_batchersMutex);
    _batchers.erase(std::remove_if(_batchers.begin(), _batchers.end(),
                                   [](const std::shared_ptr<WriteBehindBatcher>& b) {
                                       return b.use_count() == 1 && b->pending() == 0;
                                   }),
                    _batchers.end());
}

void DataStore::flushAll() {
    struct Part {
        std::shared_ptr<WriteBehindBatcher> batcher;
        WriteBehindBatcher::Taken taken;
        std::string error;
    };
    auto started = std::chrono::steady_clock::now();
    std::vector<Part> parts;
    for (auto& batcher : batchers()) {
        Part part{batcher, {}, {}};
        if (batcher->take(part.taken)) {
            parts.push_back(std::move(part));
        }
    }
    if (parts.empty()) {
        return;
    }
    // One transaction (one turn of the write lock, one commit) for the whole round; a
    // savepoint per batcher, so one batcher's failing SQL keeps only its own rows back.
    try {
        WriterLock writer(*this, true);
        Lease lease(*this);
        Session& session = lease.session();
        Poco::Data::Transaction tx(session);
        for (Part& part : parts) {
            runExecute(session, "SAVEPOINT write_behind", {});
            try {
                switchboard::writeBatch(session, part.batcher->sql(), part.taken.rows);
                runExecute(session, "RELEASE SAVEPOINT write_behind", {});
            } catch (const Poco::Exception& e) {
                part.error = e.displayText();
            } catch (const std::exception& e) {
                part.error = e.what();
            }
            if (!part.error.empty()) {
                runExecute(session, "ROLLBACK TO SAVEPOINT write_behind", {});
                runExecute(session, "RELEASE SAVEPOINT write_behind", {});
            }
        }
        tx.commit();
    } catch (const Poco::Exception& e) {
        for (Part& part : parts) {
            part.error = part.error.empty() ? e.displayText() : part.error;
        }
    } catch (const std::exception& e) {
        for (Part& part : parts) {
            part.error = part.error.empty() ? e.what() : part.error;
        }
    }
    for (Part& part : parts) {
        if (part.error.empty()) {
            ++_flushes;
            _flushedRows += part.taken.rows.size();
        } else {
            ++_flushErrors;
        }
        part.batcher->settle(part.taken, part.error);
    }
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
    _lastRoundMicros = micros;
    if (micros > _maxRoundMicros.load()) {
        _maxRoundMicros = micros;  // only the flusher thread (and close()) writes it
    }
}

std::vector<std::shared_ptr<WriteBehindBatcher>> DataStore::batchers() const {
    std::lock_guard<std::mutex> lock(_batchersMutex);
    return _batchers;
}

}  // namespace switchboard
