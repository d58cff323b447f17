// State shared by the sessions the reactor serves (WebSocket, stream): plugin data, the time of
// the last activity, the open flag and the lock serialising the socket's I/O.
#pragma once

#include <Poco/Net/Socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

namespace switchboard {

class SessionCore {
public:
    SessionCore() { touch(); }

    void setData(std::shared_ptr<void> data) {
        std::lock_guard<std::mutex> lock(_dataMutex);
        _data = std::move(data);
    }
    std::shared_ptr<void> data() const {
        std::lock_guard<std::mutex> lock(_dataMutex);
        return _data;
    }
    /// Records activity now.
    void touch() { _lastActivity = std::chrono::steady_clock::now().time_since_epoch().count(); }
    /// True if nothing happened for longer than `timeout` (never, for a timeout of 0).
    bool idleLongerThan(std::chrono::steady_clock::time_point now,
                        std::chrono::milliseconds timeout) const {
        auto last = std::chrono::steady_clock::time_point(
            std::chrono::steady_clock::duration(_lastActivity.load()));
        return timeout.count() > 0 && now - last > timeout;
    }
    /// Shuts down and closes `socket` under the I/O lock. True only for the first call, so the
    /// owner notifies its handler exactly once.
    bool closeOnce(Poco::Net::Socket& socket) {
        open = false;
        {
            std::lock_guard<std::mutex> lock(ioMutex);
            try {
                socket.impl()->shutdown();
            } catch (...) {
            }
            try {
                socket.close();
            } catch (...) {
            }
        }
        return !_closedNotified.exchange(true);
    }

    std::atomic<bool> open{true};
    std::mutex ioMutex;  ///< serialises all reads and writes of the socket

private:
    std::atomic<std::int64_t> _lastActivity{0};
    std::atomic<bool> _closedNotified{false};
    mutable std::mutex _dataMutex;
    std::shared_ptr<void> _data;
};

}  // namespace switchboard
