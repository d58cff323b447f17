// The host's audit log (see AuditLog.h).
#include "admin/AuditLog.h"

#include <Poco/Logger.h>
#include <rapidjson/document.h>

#include <algorithm>

#include "services/MetricsRegistry.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

namespace {

Poco::Logger& log() {
    return Poco::Logger::get("switchboard.audit");
}

constexpr std::int64_t kMaxPruneEveryMs = 3600 * 1000;

/// `detail` if it is a JSON object, else "{}" (the listing embeds it as is).
std::string objectOrEmpty(const std::string& detail) {
    rapidjson::Document d;
    d.Parse(detail.c_str(), detail.size());
    return !d.HasParseError() && d.IsObject() ? detail : "{}";
}

}  // namespace

AuditLog::AuditLog(Store& store, std::chrono::milliseconds retention, std::size_t queueLimit)
    : _store(store), _queueLimit(queueLimit), _retentionMs(retention.count()) {
    _store.migrate("audit", {{1,
                              {"CREATE TABLE audit_log ("
                               " id BIGINT PRIMARY KEY,"
                               " time DOUBLE PRECISION NOT NULL,"
                               " actor TEXT NOT NULL,"
                               " address TEXT NOT NULL,"
                               " action TEXT NOT NULL,"
                               " detail TEXT NOT NULL)",
                               "CREATE INDEX audit_log_time ON audit_log (time)",
                               "CREATE INDEX audit_log_action ON audit_log (action, id)"}}});
    auto max = _store.query("SELECT MAX(id) FROM audit_log");
    _nextId = (max.empty() ? 0 : max.front().getInt(0)) + 1;
    prune();
    _thread = std::thread([this] {
        nameThisThread("sb-audit");
        run();
    });
}

AuditLog::~AuditLog() {
    stop();
}

void AuditLog::record(const std::string& actor, const std::string& address,
                      const std::string& action, const std::string& detail) {
    Entry e{epochSeconds(), actor, address, action, objectOrEmpty(detail)};
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping || _queue.size() >= _queueLimit) {
            ++_dropped;  // a flood of events never grows memory without bound
            return;
        }
        _queue.push_back(std::move(e));
    }
    ++_recorded;
    _wake.notify_one();
}

void AuditLog::run() {
    auto lastPrune = std::chrono::steady_clock::now();
    bool failed = false;
    std::unique_lock<std::mutex> lock(_mutex);
    while (!_stopping) {
        if (failed) {
            // The failed batch is queued again: wait a round rather than retry at once.
            _wake.wait_for(lock, std::chrono::seconds(1), [this] { return _stopping; });
        } else {
            _wake.wait_for(lock, std::chrono::seconds(1),
                           [this] { return !_queue.empty() || _stopping; });
        }
        lock.unlock();
        failed = !writeQueued();
        auto every = std::chrono::milliseconds(std::min(_retentionMs.load(), kMaxPruneEveryMs));
        if (std::chrono::steady_clock::now() - lastPrune >= every) {
            lastPrune = std::chrono::steady_clock::now();
            try {
                prune();
            } catch (const std::exception& e) {
                log().error("pruning the audit log failed: %s", std::string(e.what()));
            }
        }
        lock.lock();
    }
}

bool AuditLog::writeQueued() {
    std::lock_guard<std::mutex> writer(_writeMutex);
    std::deque<Entry> batch;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        batch.swap(_queue);
    }
    if (batch.empty()) {
        return true;
    }
    try {
        _store.transaction([&](StoreTx& tx) {
            std::int64_t id = _nextId;
            for (const auto& e : batch) {
                tx.execute(
                    "INSERT INTO audit_log (id, time, actor, address, action, detail) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    {id++, e.time, e.actor, e.address, e.action, e.detail});
            }
        });
        _nextId += static_cast<std::int64_t>(batch.size());
        return true;
    } catch (const std::exception& e) {
        ++_writeErrors;
        log().error("writing %z audit entries failed (kept for the next round): %s", batch.size(),
                    std::string(e.what()));
        std::lock_guard<std::mutex> lock(_mutex);
        while (!batch.empty() && _queue.size() < _queueLimit) {
            _queue.push_front(std::move(batch.back()));
            batch.pop_back();
        }
        _dropped += batch.size();
    }
    return false;
}

std::string AuditLog::page(std::size_t limit, std::size_t offset, const std::string& action) {
    writeQueued();
    std::string where = action.empty() ? "" : " WHERE action = $1";
    SqlParams params;
    if (!action.empty()) {
        params.push_back(action);
    }
    auto count = _store.query("SELECT COUNT(*) FROM audit_log" + where, params);
    std::int64_t total = count.empty() ? 0 : count.front().getInt(0);
    std::string n = std::to_string(params.size() + 1);
    params.push_back(static_cast<std::int64_t>(limit));
    params.push_back(static_cast<std::int64_t>(offset));
    auto rows = _store.query("SELECT id, time, actor, address, action, detail FROM audit_log" +
                                 where + " ORDER BY id DESC LIMIT $" + n + " OFFSET $" +
                                 std::to_string(params.size()),
                             params);
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& row : rows) {
        w.StartObject();
        w.Key("id");
        w.Int64(row.getInt(0));
        w.Key("time");
        w.Double(row.getDouble(1));
        json::writeString(w, "actor", row.getString(2));
        json::writeString(w, "address", row.getString(3));
        json::writeString(w, "action", row.getString(4));
        w.Key("detail");
        std::string detail = row.getString(5);
        w.RawValue(detail.c_str(), detail.size(), rapidjson::kObjectType);
        w.EndObject();
    }
    w.EndArray();
    w.Key("total");
    w.Int64(total);
    w.Key("limit");
    w.Uint64(limit);
    w.Key("offset");
    w.Uint64(offset);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

void AuditLog::setRetention(std::chrono::milliseconds retention) {
    _retentionMs = retention.count();
}

std::int64_t AuditLog::prune() {
    double cutoff = epochSeconds() - static_cast<double>(_retentionMs.load()) / 1000.0;
    std::int64_t n = _store.execute("DELETE FROM audit_log WHERE time < $1", {cutoff});
    if (n > 0) {
        log().information("pruned %?d audit entries older than the retention", n);
    }
    return n;
}

void AuditLog::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping) {
            return;
        }
        _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) {
        _thread.join();
    }
    writeQueued();
}

void AuditLog::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        out +=
            "# HELP switchboard_audit_entries_total Audit log entries by fate\n"
            "# TYPE switchboard_audit_entries_total counter\n"
            "switchboard_audit_entries_total{kind=\"recorded\"} " +
            std::to_string(_recorded.load()) +
            "\nswitchboard_audit_entries_total{kind=\"dropped\"} " +
            std::to_string(_dropped.load()) +
            "\nswitchboard_audit_entries_total{kind=\"write_errors\"} " +
            std::to_string(_writeErrors.load()) + "\n";
    });
}

}  // namespace switchboard
