// The host's audit log (switchboard/Audit.h): a bounded queue of entries that a writer thread
// stores in the core-owned table audit_log, a paginated newest-first listing for
// GET /admin/api/audit, and the retention (audit.retention) pruned periodically.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "switchboard/Audit.h"
#include "switchboard/Store.h"

namespace switchboard {

class MetricsRegistry;

class AuditLog : public Audit {
public:
    /// Creates the table (migration owner "audit") and starts the writer. Throws StoreError.
    AuditLog(Store& store, std::chrono::milliseconds retention, std::size_t queueLimit = 10000);
    ~AuditLog() override;

    void record(const std::string& actor, const std::string& address, const std::string& action,
                const std::string& detail = "{}") override;
    /// One page, newest first, as the admin API answers it: {"items", "total", "limit",
    /// "offset"}; `action` ("" = all) keeps entries with exactly that action. Writes what is
    /// queued first, so an entry recorded before the call is listed. Throws StoreError.
    std::string page(std::size_t limit, std::size_t offset, const std::string& action);
    /// Entries older than this are deleted (now and then every min(retention, 1h)).
    void setRetention(std::chrono::milliseconds retention);
    /// Deletes entries older than the retention now; returns how many.
    std::int64_t prune();
    /// Writes what is queued and ends the writer (idempotent).
    void stop();
    /// switchboard_audit_entries_total{kind="recorded"|"dropped"|"write_errors"}.
    void registerMetrics(MetricsRegistry& metrics) const;

private:
    struct Entry {
        double time;
        std::string actor, address, action, detail;
    };
    void run();
    /// Stores what is queued (one transaction); false when that failed (the entries stay
    /// queued, as far as the queue's limit allows).
    bool writeQueued();

    Store& _store;
    const std::size_t _queueLimit;
    std::atomic<std::int64_t> _retentionMs;
    std::mutex _mutex;  ///< guards _queue, _stopping
    std::condition_variable _wake;
    std::deque<Entry> _queue;
    bool _stopping = false;
    std::mutex _writeMutex;  ///< one writer at a time (thread, page(), stop())
    std::int64_t _nextId = 0;
    std::atomic<std::uint64_t> _recorded{0}, _dropped{0}, _writeErrors{0};
    std::thread _thread;
};

}  // namespace switchboard
