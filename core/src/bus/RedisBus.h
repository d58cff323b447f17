// The event bus shared by several nodes through Redis pub/sub (bus.url: redis://host:port):
// every event is delivered to this node's subscribers at once (the in-process LocalBus) and
// published on one Redis channel, tagged with this node's id; the subscriber thread delivers
// other nodes' events to the local subscribers and ignores its own. Pub/sub is at most once:
// while Redis is away events are dropped and counted, both threads reconnect with backoff, and
// the bus is not ready (/readyz) until both are connected again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "bus/Bus.h"
#include "bus/LocalBus.h"

namespace switchboard {

/// bus.url parsed: redis://[:password@]host[:port][?channel=name].
struct RedisUrl {
    std::string host;
    int port = 6379;
    std::string password;
    std::string channel = "switchboard.events";
    /// Throws BusError naming the part that is wrong (never the password).
    static RedisUrl parse(const std::string& url);
    /// redis://host:port (channel name) for logs.
    std::string location() const;
};

class RedisBus : public Bus {
public:
    struct RedisStats {
        std::uint64_t sent = 0;        ///< events published to Redis
        std::uint64_t received = 0;    ///< other nodes' events delivered here
        std::uint64_t own = 0;         ///< this node's events seen coming back, ignored
        std::uint64_t dropped = 0;     ///< events not sent (Redis away, queue full) or not taken
        std::uint64_t reconnects = 0;  ///< connections (re)established after a failure
        bool connected = false;        ///< publisher and subscriber both connected
    };

    /// Starts the publisher and subscriber threads; they connect in the background (the first
    /// attempt is waited for up to `connectWait`, so a node that starts with Redis up is ready
    /// at once).
    RedisBus(RedisUrl url, std::size_t queueSize,
             std::chrono::milliseconds connectWait = std::chrono::milliseconds(2000));
    ~RedisBus() override;

    void publish(const std::string& topic, std::string payloadJson) override;
    std::uint64_t subscribeAs(const std::string& owner, const std::string& pattern,
                              Handler handler) override;
    void unsubscribe(std::uint64_t id) override;
    BusStats stats() const override;
    std::string nodeId() const override { return _nodeId; }
    void stop() override;
    bool ready(std::string& reason) const override;
    void registerBackendMetrics(MetricsRegistry& metrics) const override;

    RedisStats redisStats() const;

private:
    void runPublisher();
    void runSubscriber();
    /// Sleeps up to `delay` unless stopping; false when stopping.
    bool pause(std::chrono::milliseconds delay);

    const RedisUrl _url;
    const std::string _nodeId;
    const std::size_t _capacity;
    LocalBus _local;

    mutable std::mutex _mutex;  ///< guards _outbound, _stopping
    std::condition_variable _wake;
    std::deque<std::string> _outbound;  ///< framed messages waiting for the publisher
    bool _stopping = false;

    std::atomic<bool> _pubConnected{false};
    std::atomic<bool> _subConnected{false};
    std::atomic<std::uint64_t> _sent{0};
    std::atomic<std::uint64_t> _received{0};
    std::atomic<std::uint64_t> _own{0};
    std::atomic<std::uint64_t> _dropped{0};
    std::atomic<std::uint64_t> _reconnects{0};
    mutable std::mutex _errorMutex;
    std::string _lastError;

    std::thread _publisher;
    std::thread _subscriber;
};

}  // namespace switchboard
