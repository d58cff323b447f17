// The in-process event bus: a bounded queue drained by one dispatcher thread, so publishers
// never block and a slow subscriber delays only other subscribers, never a request.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "bus/Bus.h"

namespace switchboard {

class LocalBus : public Bus {
public:
    explicit LocalBus(std::size_t capacity = 10000);
    ~LocalBus() override;

    void publish(const std::string& topic, std::string payloadJson) override;
    /// Queues an event another node published (origin and time as it carried them), for this
    /// node's subscribers only. Dropped and counted like publish() when the queue is full;
    /// false then.
    bool inject(Event event);
    std::uint64_t subscribeAs(const std::string& owner, const std::string& pattern,
                              Handler handler) override;
    /// Once it returns, the handler is not running and is never called again (called from a
    /// handler itself, it returns at once and the running call finishes).
    void unsubscribe(std::uint64_t id) override;
    BusStats stats() const override;

    /// Delivers what is queued, then stops the dispatcher. Idempotent.
    void stop() override;
    /// Blocks until the queue is empty and no handler runs (tests, shutdown).
    void drain();

private:
    struct Subscription;
    void run();
    /// Logs a handler's exception on its owner's logger.
    static void handlerFailed(const Subscription& sub, const Event& event, const char* what);

    struct Subscription {
        std::string pattern;
        std::shared_ptr<Handler> handler;
        std::string owner;  ///< plugin name, "" for the host
    };

    const std::size_t _capacity;
    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::condition_variable _idle;
    std::deque<Event> _queue;
    std::map<std::uint64_t, Subscription> _subscriptions;
    std::uint64_t _nextId = 1;
    bool _stopping = false;
    bool _busy = false;
    std::uint64_t _running = 0;  ///< subscription whose handler runs now (0: none)
    std::thread::id _dispatcher;
    std::atomic<std::uint64_t> _published{0};
    std::atomic<std::uint64_t> _delivered{0};
    std::atomic<std::uint64_t> _dropped{0};
    std::atomic<std::uint64_t> _handlerErrors{0};
    std::thread _thread;
};

}  // namespace switchboard
