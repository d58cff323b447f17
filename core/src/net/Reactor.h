// Event loops serving long-lived sockets (WebSockets, stream connections) after their
// handshake: N threads, each polling its own set, so an idle connection costs no thread.
#pragma once

#include <Poco/Net/PollSet.h>
#include <Poco/Net/Socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace Poco {
class Logger;
}

namespace switchboard {

class MetricsRegistry;

/// A socket served by the reactor. onReadable() runs on the connection's loop thread only.
class ReactorConnection {
public:
    virtual ~ReactorConnection() = default;
    virtual const Poco::Net::Socket& socket() const = 0;
    /// Reads what is available. Returns false when the connection is finished.
    virtual bool onReadable() = 0;
    /// Called about once a second; returns false to close an idle or dead connection.
    virtual bool onTick(std::chrono::steady_clock::time_point now) = 0;
    /// Closes the socket and notifies the owner; called once, by the loop, after removal.
    virtual void onClosed() = 0;
    /// Set by the loop: asks the loop to drop this connection (thread-safe).
    void requestClose();
    bool closeRequested() const { return _closeRequested.load(); }
    /// The plugin whose handler serves this connection (set when adopted).
    const std::string& owner() const { return _owner; }
    /// The owner's logger, "switchboard.<plugin>" (`fallback` while there is no owner): every
    /// line about a connection's handler names the plugin that serves it.
    Poco::Logger& ownerLogger(const char* fallback) const;

private:
    friend class ReactorLoop;
    friend class Reactor;
    std::string _owner;
    std::atomic<bool> _closeRequested{false};
    class ReactorLoop* _loop = nullptr;
};

class ReactorLoop {
public:
    ReactorLoop();
    ~ReactorLoop();
    void adopt(std::shared_ptr<ReactorConnection> conn);
    /// Asks every connection of `owner` to close; returns how many.
    std::size_t closeOwner(const std::string& owner);
    /// True while a connection of `owner` is served or any connection's close handler runs.
    bool busyWith(const std::string& owner) const;
    void wakeForClose();
    void stop();
    std::size_t size() const;

private:
    void run();
    void remove(const std::shared_ptr<ReactorConnection>& conn);

    Poco::Net::PollSet _poll;
    mutable std::mutex _mutex;
    std::condition_variable _hasWork;
    std::unordered_map<const void*, std::shared_ptr<ReactorConnection>> _conns;
    std::atomic<bool> _pendingClose{false};
    std::atomic<int> _removing{0};  ///< close handlers running now
    std::atomic<bool> _stopping{false};
    std::thread _thread;
};

class Reactor {
public:
    explicit Reactor(std::size_t threads);
    ~Reactor();
    /// Hands a connected socket to a loop; it is polled until it finishes. `owner` names the
    /// plugin serving it, so closeOwner() can end its connections when the plugin stops.
    void adopt(std::shared_ptr<ReactorConnection> conn, std::string owner = {});
    /// Closes every connection served by plugin `owner` and waits (until `deadline` at most)
    /// for their close handlers to finish. Returns how many connections it closed.
    std::size_t closeOwner(const std::string& owner,
                           std::chrono::steady_clock::time_point deadline);
    /// Closes every connection and joins the loops. Idempotent.
    void stop();
    std::size_t connections() const;
    /// Registers switchboard_reactor_connections (read at scrape time). The reactor must
    /// outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;

private:
    std::vector<std::unique_ptr<ReactorLoop>> _loops;
    std::atomic<std::size_t> _next{0};
};

}  // namespace switchboard
