// The access log (server.access_log): one line per HTTP request — time, listener, method, path,
// status, bytes, duration, client address — as text or JSON, written by a thread of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "switchboard/Metrics.h"

namespace switchboard {

class MetricsRegistry;

/// Owned by the Host and shared by every HTTP listener. record() runs on the event loops and
/// takes no lock: it formats the line and pushes it onto a lock-free list that the writer
/// thread takes whole every 50 ms and writes with one write(2). Beyond `maxQueued` lines
/// waiting, lines are dropped and counted (switchboard_access_log_dropped_total), so a stalled
/// disk never holds a loop.
class AccessLog {
public:
    explicit AccessLog(MetricsRegistry& metrics);
    ~AccessLog();
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    /// Applies server.access_log (start, SIGHUP, reload): `file` empty turns the log off,
    /// otherwise the file is (re)opened for appending — after logrotate moved it, the next
    /// line goes to a new file. `format` is "text" or "json". Throws std::runtime_error naming
    /// the file if it cannot be opened (the previous file, if any, stays in use).
    void configure(const std::string& file, const std::string& format, std::size_t maxQueued);
    bool enabled() const { return _enabled.load(std::memory_order_relaxed); }
    /// Queues one request's line (no-op while disabled). `micros`: from the request's first
    /// byte to its response being queued.
    void record(const std::string& listener, const std::string& method, const std::string& path,
                int status, std::size_t bytes, std::uint64_t micros, const std::string& client);
    /// Writes what is queued now (tests, shutdown).
    void flush();
    /// Flushes and ends the writer thread (idempotent).
    void stop();

private:
    struct Line {
        Line* next;
        std::string text;
    };
    void run();
    /// Takes every queued line and writes them, oldest first.
    void drain();

    std::atomic<bool> _enabled{false};
    std::atomic<bool> _json{false};
    std::atomic<std::size_t> _maxQueued{65536};
    std::atomic<Line*> _head{nullptr};
    std::atomic<std::size_t> _queued{0};
    std::mutex _fileMutex;  ///< held by drain() and configure(), never by record()
    int _fd = -1;
    std::string _file;
    std::mutex _wakeMutex;
    std::condition_variable _wake;
    bool _stopping = false;
    std::thread _writer;
    Counter& _written;
    Counter& _dropped;
    Counter& _failed;
};

}  // namespace switchboard
