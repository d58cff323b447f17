// The event bus: dotted topics, JSON-object payloads, asynchronous delivery. The in-process
// bus and a Redis bus implement the same interface.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace switchboard {

struct Event {
    std::string topic;    ///< e.g. "server.online"
    std::string payload;  ///< JSON object text
    std::int64_t timeMs;  ///< publish time, ms since the epoch
    /// The node that published it: "" for this node, another node's id for an event that came
    /// over a shared bus (bus.url: redis://...). A plugin that keeps its own state in step
    /// across nodes acts on remote events only.
    std::string origin;
};

struct BusStats {
    std::uint64_t published = 0;
    std::uint64_t delivered = 0;  ///< handler calls made
    std::uint64_t dropped = 0;    ///< events dropped because the queue was full
    std::uint64_t queued = 0;     ///< events waiting now
    std::uint64_t handlerErrors = 0;
};

class EventBus {
public:
    using Handler = std::function<void(const Event&)>;
    virtual ~EventBus() = default;
    /// Queues an event; never blocks. When the queue is full the event is dropped and counted.
    virtual void publish(const std::string& topic, std::string payloadJson) = 0;
    /// Subscribes to a topic: exact ("server.online"), a prefix wildcard ("server.*"), or "*".
    /// Topics under "internal." (a plugin's own messages to its instances on other nodes, which
    /// may carry what operators' scripts and streams must not see, such as relayed signals) are
    /// matched only by an exact subscription, never by a wildcard.
    /// Handlers run on a bus thread, one event at a time; an exception is logged and counted.
    virtual std::uint64_t subscribe(const std::string& pattern, Handler handler) = 0;
    virtual void unsubscribe(std::uint64_t id) = 0;
    virtual BusStats stats() const = 0;
    /// This node's id on a shared bus (what Event::origin holds for its events elsewhere); ""
    /// on the in-process bus.
    virtual std::string nodeId() const { return ""; }
    /// Node liveness on a shared bus: every node sends a heartbeat; the bus raises
    /// "bus.node_up" {"node": id} locally when it first hears a node (or hears it again after it
    /// was down) and "bus.node_down" {"node": id, "silent_ms": n} when a node it heard, or was
    /// told of here, stays silent for the bus's node timeout. `watchNode` tells the bus of a
    /// node believed alive that it may never have heard (e.g. its id was found in the store):
    /// if that node is not heard within the node timeout, bus.node_down is raised for it. A
    /// no-op for this node's own id and on the in-process bus (there is only this node).
    virtual void watchNode(const std::string& nodeId) { (void)nodeId; }
};

/// True for a topic or pattern under "internal." (see EventBus::subscribe): the admin event
/// stream, webhooks and Lua scripts refuse such patterns.
inline bool internalTopic(const std::string& topic) {
    return topic.compare(0, 9, "internal.") == 0;
}

/// True if `topic` matches `pattern` under the rules of EventBus::subscribe.
bool topicMatches(const std::string& pattern, const std::string& topic);

}  // namespace switchboard
