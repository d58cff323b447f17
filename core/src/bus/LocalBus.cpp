// In-process event bus (see LocalBus.h) and the topic pattern rule shared by all buses.
#include "bus/LocalBus.h"

#include <Poco/Logger.h>

#include <vector>

#include "switchboard/Clock.h"

namespace switchboard {

bool topicMatches(const std::string& pattern, const std::string& topic) {
    // "internal." topics (plugins' own traffic between nodes, e.g. relayed signals) reach only
    // subscriptions that name them exactly: no wildcard matches them, and the admin event
    // stream, webhooks and Lua refuse such names (internalTopic()).
    if (internalTopic(topic)) {
        return pattern == topic;
    }
    if (pattern == "*") {
        return true;
    }
    if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
        // "server.*" matches "server.online" and deeper topics, not "server" or "serverx.y".
        std::size_t prefix = pattern.size() - 1;  // keeps the dot
        return topic.size() > prefix && topic.compare(0, prefix, pattern, 0, prefix) == 0;
    }
    return pattern == topic;
}

LocalBus::LocalBus(std::size_t capacity) : _capacity(capacity), _thread([this] { run(); }) {}

LocalBus::~LocalBus() {
    stop();
}

void LocalBus::publish(const std::string& topic, std::string payloadJson) {
    std::int64_t now = epochMillis();
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping || _queue.size() >= _capacity) {
            _dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        _queue.push_back(Event{topic, std::move(payloadJson), now, {}});
    }
    _published.fetch_add(1, std::memory_order_relaxed);
    _wake.notify_one();
}

bool LocalBus::inject(Event event) {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping || _queue.size() >= _capacity) {
            _dropped.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        _queue.push_back(std::move(event));
    }
    _wake.notify_one();
    return true;
}

std::uint64_t LocalBus::subscribeAs(const std::string& owner, const std::string& pattern,
                                    Handler handler) {
    std::lock_guard<std::mutex> lock(_mutex);
    std::uint64_t id = _nextId++;
    _subscriptions[id] =
        Subscription{pattern, std::make_shared<Handler>(std::move(handler)), owner};
    return id;
}

void LocalBus::unsubscribe(std::uint64_t id) {
    std::unique_lock<std::mutex> lock(_mutex);
    _subscriptions.erase(id);
    if (std::this_thread::get_id() != _dispatcher) {
        _idle.wait(lock, [&] { return _running != id; });
    }
}

BusStats LocalBus::stats() const {
    BusStats s;
    s.published = _published.load();
    s.delivered = _delivered.load();
    s.dropped = _dropped.load();
    s.handlerErrors = _handlerErrors.load();
    std::lock_guard<std::mutex> lock(_mutex);
    s.queued = _queue.size();
    return s;
}

void LocalBus::handlerFailed(const Subscription& sub, const Event& event, const char* what) {
    Poco::Logger::get(sub.owner.empty() ? "switchboard.bus" : "switchboard." + sub.owner)
        .warning("bus handler for '%s' (subscribed to '%s') failed: %s", event.topic, sub.pattern,
                 std::string(what));
}

void LocalBus::run() {
    std::unique_lock<std::mutex> lock(_mutex);
    _dispatcher = std::this_thread::get_id();
    for (;;) {
        _wake.wait(lock, [this] { return _stopping || !_queue.empty(); });
        if (_queue.empty()) {
            break;  // stopping and drained
        }
        Event event = std::move(_queue.front());
        _queue.pop_front();
        // Snapshot matching handlers, then call them without the lock so they may publish.
        std::vector<std::pair<std::uint64_t, Subscription>> targets;
        for (const auto& [id, sub] : _subscriptions) {
            if (topicMatches(sub.pattern, event.topic)) {
                targets.emplace_back(id, sub);
            }
        }
        _busy = true;
        for (const auto& [id, sub] : targets) {
            // Skipped if unsubscribed since the snapshot; unsubscribe() waits while it runs.
            if (_subscriptions.count(id) == 0) {
                continue;
            }
            _running = id;
            lock.unlock();
            try {
                (*sub.handler)(event);
                _delivered.fetch_add(1, std::memory_order_relaxed);
            } catch (const std::exception& e) {
                _handlerErrors.fetch_add(1, std::memory_order_relaxed);
                handlerFailed(sub, event, e.what());
            } catch (...) {
                _handlerErrors.fetch_add(1, std::memory_order_relaxed);
                handlerFailed(sub, event, "unknown exception");
            }
            lock.lock();
            _running = 0;
            _idle.notify_all();
        }
        _busy = false;
        if (_queue.empty()) {
            _idle.notify_all();
        }
    }
    _idle.notify_all();
}

void LocalBus::drain() {
    std::unique_lock<std::mutex> lock(_mutex);
    _idle.wait(lock, [this] { return _queue.empty() && !_busy; });
}

void LocalBus::stop() {
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
}

}  // namespace switchboard
