// The delivery queue of the webhooks plugin: a bounded set of deliveries waiting (new, or for
// their next retry), worked off by delivery threads of its own, with the recent deliveries and
// per-hook counts the admin API shows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "WebhookSender.h"
#include "WebhooksConfig.h"
#include "switchboard/Metrics.h"

namespace Poco {
class Logger;
}

namespace switchboard::webhooks {

/// One event on its way to one hook.
struct Delivery {
    std::string id;
    std::shared_ptr<const HookConfig> hook;
    std::string topic;
    std::string body;
    std::int64_t timestamp = 0;  ///< the event's publish time, epoch seconds
    // What the admin API shows; guarded by the dispatcher's mutex.
    std::string state = "pending";  ///< pending, delivering, retrying, delivered, failed, abandoned
    int attempts = 0;
    int lastStatus = 0;
    std::string lastError;
    double firstAttemptAt = 0;
    double lastAttemptAt = 0;
    // Scheduling.
    std::chrono::steady_clock::time_point firstAttempt{};
    std::chrono::steady_clock::time_point due{};
    std::chrono::milliseconds nextBackoff{0};
};

/// Counts of one hook, as metrics (switchboard_webhooks_*{hook="<name>"}).
struct HookCounters {
    Counter* delivered;
    Counter* failed;
    Counter* dropped;
    Counter* retries;
};

class WebhookDispatcher {
public:
    WebhookDispatcher(std::size_t queueSize, std::size_t threads, std::size_t history,
                      Poco::Logger& logger);
    ~WebhookDispatcher();

    void setCounters(const std::string& hook, HookCounters counters);
    /// Queues `topic`'s event for `hook` (from a bus thread: never blocks). False when the queue
    /// is full: the event is dropped for this hook and counted.
    bool enqueue(std::shared_ptr<const HookConfig> hook, const std::string& topic,
                 const std::string& payload, std::int64_t timeMs);
    void start();
    /// Ends the threads: attempts under way are cut off (their sockets shut down), deliveries
    /// still waiting are abandoned (and logged).
    void stop();

    /// GET /admin/api/webhooks: hooks with their counts, then the recent deliveries newest
    /// first, `offset`/`limit` of them.
    std::string describe(const std::vector<std::shared_ptr<const HookConfig>>& hooks,
                         std::size_t offset, std::size_t limit);
    std::size_t queued();

private:
    void run();
    /// Records what `attempt` came to and reschedules `d` or finishes it.
    void settle(const std::shared_ptr<Delivery>& d, const AttemptResult& attempt);
    void remember(const std::shared_ptr<Delivery>& d);

    const std::size_t _queueSize;
    const std::size_t _threadCount;
    const std::size_t _history;
    Poco::Logger& _logger;
    WebhookSender _sender;
    std::mutex _mutex;
    std::condition_variable _wake;
    std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Delivery>> _waiting;
    std::size_t _delivering = 0;
    std::set<int> _sockets;  ///< descriptors of attempts under way
    std::deque<std::shared_ptr<Delivery>> _recent;
    std::map<std::string, HookCounters> _counters;
    std::uint64_t _sequence = 0;
    bool _stopping = false;
    std::vector<std::thread> _threads;
};

}  // namespace switchboard::webhooks
