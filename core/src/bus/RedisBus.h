// The event bus shared by several nodes through Redis pub/sub (bus.url: redis://host:port):
// every event is delivered to this node's subscribers at once (the in-process LocalBus) and
// published on one Redis channel, tagged with this node's id; the subscriber thread delivers
// other nodes' events to the local subscribers and ignores its own. Pub/sub is at most once:
// while Redis is away events are dropped and counted, both threads reconnect with backoff, and
// the bus is not ready (/readyz) until both are connected again.
//
// Node liveness: the publisher sends a heartbeat every node_timeout / 4 (not delivered to
// subscribers); the subscriber notes when it last heard each node and raises bus.node_up /
// bus.node_down locally (EventBus::watchNode). While this node's own subscriber is away it
// declares no node down, and after it reconnects every node gets a fresh node_timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "bus/Bus.h"
#include "bus/LocalBus.h"

namespace switchboard {

/// bus.url parsed: redis://[:password@]host[:port][?channel=name&node_timeout=2s].
struct RedisUrl {
    std::string host;
    int port = 6379;
    std::string password;
    std::string channel = "switchboard.events";
    /// A node not heard for this long is down (bus.node_down); heartbeats go out 4 times
    /// within it. `node_timeout=` takes a number with ms or s, from 100ms to 600s.
    std::chrono::milliseconds nodeTimeout{2000};
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
        std::uint64_t nodesUp = 0;     ///< other nodes heard within the node timeout
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
    void watchNode(const std::string& nodeId) override;
    void stop() override;
    bool ready(std::string& reason) const override;
    void registerBackendMetrics(MetricsRegistry& metrics) const override;

    RedisStats redisStats() const;

private:
    void runPublisher();
    void runSubscriber();
    /// Sleeps up to `delay` unless stopping; false when stopping.
    bool pause(std::chrono::milliseconds delay);
    /// Subscriber thread: a message of `node` arrived (raises bus.node_up if it is new or was
    /// down).
    void heard(const std::string& node);
    /// Subscriber thread: raises bus.node_down for nodes silent past the node timeout.
    void checkNodes();
    /// Subscriber thread, after it (re)subscribed: every known node gets a fresh timeout.
    void refreshNodes();

    struct NodeState {
        std::chrono::steady_clock::time_point lastHeard;
        bool down = false;
    };

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
    mutable std::mutex _nodesMutex;  ///< guards _nodes
    std::map<std::string, NodeState> _nodes;

    std::thread _publisher;
    std::thread _subscriber;
};

}  // namespace switchboard
