// What a hostile client meets before anything expensive: a cap on open connections per listener
// and per client address, and one process-wide budget for request bytes held in memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchboard {

/// Bytes of request bodies held across every connection (server.max_buffered_bytes).
class ByteBudget {
public:
    explicit ByteBudget(std::size_t limit) : _limit(limit) {}
    /// Takes `n` bytes; false (nothing taken) if that would pass the limit.
    bool take(std::size_t n) {
        std::size_t used = _used.load(std::memory_order_relaxed);
        do {
            if (used + n > _limit) {
                return false;
            }
        } while (!_used.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
        return true;
    }
    void give(std::size_t n) { _used.fetch_sub(n, std::memory_order_relaxed); }
    std::size_t used() const { return _used.load(std::memory_order_relaxed); }
    std::size_t limit() const { return _limit; }

private:
    const std::size_t _limit;
    std::atomic<std::size_t> _used{0};
};

/// Open connections of one listener, in total and per peer address.
class ConnectionCounter {
public:
    enum class Verdict { Accepted, ListenerFull, AddressFull };

    ConnectionCounter(std::size_t maxTotal, std::size_t maxPerAddress)
        : _maxTotal(maxTotal), _maxPerAddress(maxPerAddress) {}

    /// Counts a new connection from `address` unless a cap is reached (`exempt`: no
    /// per-address cap, for trusted proxies). Accepted connections must be released.
    Verdict add(const std::string& address, bool exempt) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_total >= _maxTotal) {
            return Verdict::ListenerFull;
        }
        std::size_t& n = _perAddress[address];
        if (!exempt && n >= _maxPerAddress) {
            if (n == 0) {
                _perAddress.erase(address);
            }
            return Verdict::AddressFull;
        }
        ++n;
        ++_total;
        return Verdict::Accepted;
    }
    void release(const std::string& address) {
        std::lock_guard<std::mutex> lock(_mutex);
        auto it = _perAddress.find(address);
        if (it != _perAddress.end() && --it->second == 0) {
            _perAddress.erase(it);
        }
        if (_total > 0) {
            --_total;
        }
    }
    std::size_t total() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _total;
    }

private:
    const std::size_t _maxTotal;
    const std::size_t _maxPerAddress;
    mutable std::mutex _mutex;
    std::size_t _total = 0;
    std::unordered_map<std::string, std::size_t> _perAddress;
};

}  // namespace switchboard
