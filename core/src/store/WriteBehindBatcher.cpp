// Write-behind batching (see WriteBehindBatcher.h): swap out the pending map, hand it to the
// sink, and put it back on failure so no update is lost to a transient error.
#include "store/WriteBehindBatcher.h"

#include <Poco/Logger.h>

namespace switchboard {

WriteBehindBatcher::WriteBehindBatcher(Sink& sink, std::string name, std::string sql)
    : _name(std::move(name)), _sql(std::move(sql)), _sink(&sink) {}

void WriteBehindBatcher::put(const std::string& key, SqlParams params) {
    checkSqlParams(params);  // refuse now: a failing flush would retry forever
    std::lock_guard<std::mutex> lock(_mutex);
    // insert_or_assign copies the key only when the node is new; repeats just move params in.
    _pending.insert_or_assign(key, std::move(params));
}

void WriteBehindBatcher::discard(const std::string& key) {
    std::lock_guard<std::mutex> lock(_mutex);
    _pending.erase(key);
    if (_flushing) {
        _discarded.insert(key);
    }
}

std::size_t WriteBehindBatcher::pending() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _pending.size();
}

void WriteBehindBatcher::detach() {
    std::lock_guard<std::mutex> lock(_flushMutex);
    _sink = nullptr;
}

void WriteBehindBatcher::flush() {
    std::lock_guard<std::mutex> flushLock(_flushMutex);
    if (_sink == nullptr) {
        throw StoreError("write-behind '" + _name + "': the store is closed");
    }
    Pending batch;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_pending.empty()) {
            return;
        }
        batch.swap(_pending);
        _flushing = true;
    }
    try {
        _sink->writeBatch(_sql, batch);
    } catch (const std::exception& e) {
        Poco::Logger::get("switchboard.store")
            .warning("write-behind '%s': flush of %z rows failed, will retry: %s", _name,
                     batch.size(), std::string(e.what()));
        restore(batch);
        throw;
    }
    std::lock_guard<std::mutex> lock(_mutex);
    _flushing = false;
    _discarded.clear();
}

void WriteBehindBatcher::restore(Pending& batch) {
    std::lock_guard<std::mutex> lock(_mutex);
    for (auto& [key, params] : batch) {
        // try_emplace keeps a newer put for the key; a discard in the meantime wins too.
        if (_discarded.count(key) == 0) {
            _pending.try_emplace(key, std::move(params));
        }
    }
    _flushing = false;
    _discarded.clear();
}

bool WriteBehindBatcher::take(Taken& taken) {
    taken.lock = std::unique_lock<std::mutex>(_flushMutex);
    std::lock_guard<std::mutex> lock(_mutex);
    if (_sink == nullptr || _pending.empty()) {
        taken.lock.unlock();
        return false;
    }
    taken.rows.swap(_pending);
    _flushing = true;
    return true;
}

void WriteBehindBatcher::settle(Taken& taken, const std::string& error) {
    if (error.empty()) {
        std::lock_guard<std::mutex> lock(_mutex);
        _flushing = false;
        _discarded.clear();
    } else {
        Poco::Logger::get("switchboard.store")
            .warning("write-behind '%s': flush of %z rows failed, will retry: %s", _name,
                     taken.rows.size(), error);
        restore(taken.rows);
    }
    taken.rows.clear();
    taken.lock.unlock();
}

}  // namespace switchboard
