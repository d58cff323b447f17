// Prometheus metrics a plugin registers; the host serves them on GET /metrics (admin listener).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace switchboard {

/// A monotonically increasing counter; inc() is a relaxed atomic add.
class Counter {
public:
    void inc(std::uint64_t n = 1) { _value.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> _value{0};
};

class Metrics {
public:
    virtual ~Metrics() = default;
    /// Returns the counter `name{labels}` (created on first use; same object afterwards).
    /// In a plugin's context names are prefixed "switchboard_<plugin>_". `labels` is written
    /// as in the exposition format, e.g. `reason="rate"`, or "".
    virtual Counter& counter(const std::string& name, const std::string& help,
                             const std::string& labels = "") = 0;
    /// Registers a gauge read by calling `read` at scrape time.
    virtual void gauge(const std::string& name, const std::string& help,
                       std::function<double()> read, const std::string& labels = "") = 0;
};

}  // namespace switchboard
