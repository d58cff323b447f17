// The access log (see AccessLog.h).
#include "services/AccessLog.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include "services/MetricsRegistry.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

namespace {

/// RFC 3339 UTC with milliseconds: 2026-12-01T19:04:05.123Z.
std::string timestamp() {
    timeval now{};
    gettimeofday(&now, nullptr);
    std::tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    char text[32];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(now.tv_usec / 1000));
    return text;
}

/// A field of a text line: spaces, quotes, backslashes, control and non-ASCII bytes become
/// %XX, so one request is one line with space-separated fields whatever its path holds.
void appendText(std::string& out, const std::string& value) {
    if (value.empty()) {
        out += '-';
        return;
    }
    static const char* hex = "0123456789ABCDEF";
    for (unsigned char c : value) {
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\' || c == '%') {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
}

/// A JSON string (quotes included); bytes that are not printable ASCII become \u00XX, so the
/// line stays valid JSON even for a path that is not UTF-8.
void appendJson(std::string& out, const std::string& value) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7F) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

std::string millis(std::uint64_t micros) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(micros) / 1000.0);
    return text;
}

}  // namespace

AccessLog::AccessLog(MetricsRegistry& metrics)
    : _written(
          metrics.counter("switchboard_access_log_lines_total", "Access log lines written", "")),
      _dropped(metrics.counter("switchboard_access_log_dropped_total",
                               "Access log lines dropped because the writer fell behind", "")),
      _failed(metrics.counter("switchboard_access_log_write_errors_total",
                              "Failed writes to the access log file", "")) {
    _writer = std::thread([this] {
        nameThisThread("sb-access-log");
        run();
    });
}

AccessLog::~AccessLog() {
    stop();
}

void AccessLog::configure(const std::string& file, const std::string& format,
                          std::size_t maxQueued) {
    _json = format == "json";
    _maxQueued = maxQueued;
    if (file.empty()) {
        _enabled = false;
        flush();
        std::lock_guard<std::mutex> lock(_fileMutex);
        if (_fd >= 0) {
            ::close(_fd);
        }
        _fd = -1;
        _file.clear();
        return;
    }
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        throw std::runtime_error("server.access_log.file: cannot open " + file + ": " +
                                 std::strerror(errno));
    }
    flush();  // lines queued so far go to the old file
    {
        std::lock_guard<std::mutex> lock(_fileMutex);
        if (_fd >= 0) {
            ::close(_fd);
        }
        _fd = fd;
        _file = file;
    }
    _enabled = true;
}

void AccessLog::record(const std::string& listener, const std::string& method,
                       const std::string& path, int status, std::size_t bytes, std::uint64_t micros,
                       const std::string& client) {
    if (!enabled()) {
        return;
    }
    if (_queued.fetch_add(1, std::memory_order_relaxed) >= _maxQueued) {
        _queued.fetch_sub(1, std::memory_order_relaxed);
        _dropped.inc();
        return;
    }
    auto* line = new Line{nullptr, {}};
    std::string& s = line->text;
    s.reserve(128 + path.size());
    if (_json) {
        s += "{\"ts\":\"" + timestamp() + "\",\"listener\":";
        appendJson(s, listener);
        s += ",\"method\":";
        appendJson(s, method);
        s += ",\"path\":";
        appendJson(s, path);
        s += ",\"status\":" + std::to_string(status) + ",\"bytes\":" + std::to_string(bytes) +
             ",\"duration_ms\":" + millis(micros) + ",\"client\":";
        appendJson(s, client);
        s += "}\n";
    } else {
        s += timestamp();
        s += ' ';
        appendText(s, listener);
        s += ' ';
        appendText(s, client);
        s += ' ';
        appendText(s, method);
        s += ' ';
        appendText(s, path);
        s += ' ' + std::to_string(status) + ' ' + std::to_string(bytes) + ' ' + millis(micros) +
             "ms\n";
    }
    Line* head = _head.load(std::memory_order_relaxed);
    do {
        line->next = head;
    } while (!_head.compare_exchange_weak(head, line, std::memory_order_release,
                                          std::memory_order_relaxed));
}

void AccessLog::drain() {
    // One drain at a time, so that lines reach the file in the order they were taken.
    std::lock_guard<std::mutex> lock(_fileMutex);
    Line* taken = _head.exchange(nullptr, std::memory_order_acquire);
    if (taken == nullptr) {
        return;
    }
    std::vector<Line*> lines;  // newest first: write them the other way round
    for (Line* l = taken; l != nullptr; l = l->next) {
        lines.push_back(l);
    }
    std::string out;
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
        out += (*it)->text;
        delete *it;
    }
    _queued.fetch_sub(lines.size(), std::memory_order_relaxed);
    if (_fd < 0) {
        return;  // turned off: what was queued before is dropped with it
    }
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
        ssize_t n = ::write(_fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            _failed.inc();
            return;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    _written.inc(lines.size());
}

void AccessLog::flush() {
    drain();  // waits for a drain of the writer's that is under way
}

void AccessLog::run() {
    std::unique_lock<std::mutex> lock(_wakeMutex);
    while (!_stopping) {
        _wake.wait_for(lock, std::chrono::milliseconds(50));
        lock.unlock();
        drain();
        lock.lock();
    }
}

void AccessLog::stop() {
    _enabled = false;
    {
        std::lock_guard<std::mutex> lock(_wakeMutex);
        if (_stopping) {
            return;
        }
        _stopping = true;
    }
    _wake.notify_all();
    if (_writer.joinable()) {
        _writer.join();
    }
    drain();
    std::lock_guard<std::mutex> lock(_fileMutex);
    if (_fd >= 0) {
        ::close(_fd);
        _fd = -1;
    }
}

}  // namespace switchboard
