// Group commit for the chat: one thread takes every queued item (messages of all connections,
// history and offline-delivery requests, replies that must keep their place), runs them in one
// transaction and only after the commit sends the ACKs, the live deliveries and the answers,
// in queue order. So no ACK precedes its commit, a commit serves many messages, and a
// connection's replies stay in the order of its requests. After each commit the ids of the
// stored messages (never their bodies) go on the bus as chat.stored; another node's writer
// takes them as a Remote item, reads the messages from the store and hands them to its own
// connections of their receivers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ChatSession.h"
#include "MessagingStore.h"
#include "Presence.h"
#include "switchboard/EventBus.h"
#include "switchboard/Metrics.h"
#include "switchboard/Stream.h"

namespace Poco {
class Logger;
}

namespace switchboard::messaging {

class MessageWriter {
public:
    struct Item {
        enum class Kind { Message, Reply, History, Drain, Forget, Remote };
        /// Remote: a message another node stored, and what this node sends of it.
        struct Stored {
            std::int64_t id = 0;
            std::int64_t receiverId = 0;
        };
        struct Delivery {
            std::int64_t id = 0;
            std::string frame;
            std::vector<StreamPtr> targets;
            bool undelivered = false;  ///< stored as undelivered: mark it once a target has it
        };
        Kind kind = Kind::Reply;
        StreamPtr conn;
        std::shared_ptr<ChatSession> session;
        StoredMessage message;       ///< Message
        std::string frame;           ///< Message: the delivered MSG frame; Reply: the bytes
        bool closeAfter = false;     ///< Reply
        std::int64_t userId = 0;     ///< History, Drain, Forget
        std::int64_t otherId = 0;    ///< History
        std::vector<Stored> remote;  ///< Remote
        // Filled while the batch runs.
        std::vector<StreamPtr> targets;
        std::vector<std::string> out;
        std::vector<std::int64_t> ids;  ///< Drain: the message of each frame in `out`
        bool failed = false;
        bool more = false;                 ///< Drain: undelivered messages remain
        std::vector<Delivery> deliveries;  ///< Remote
    };

    /// `bus` receives chat.stored after each commit that stored messages.
    MessageWriter(MessagingStore& store, Presence& presence, EventBus& bus, Poco::Logger& logger,
                  Metrics& metrics, std::int64_t historyLimit, std::size_t maxBatch,
                  std::size_t drainBytes, std::chrono::microseconds commitInterval);
    ~MessageWriter();

    void start();
    /// Runs what is queued, then stops the thread.
    void stop();
    /// Queues an item (counted in its session's inflight).
    void push(Item item);
    /// Sends `bytes` on `conn` now, or through the queue while the session has items in it.
    void send(const std::shared_ptr<ChatSession>& session, const StreamPtr& conn, std::string bytes,
              bool closeAfter = false);
    /// Queues several items in one step (nothing can come between them).
    void pushAll(std::vector<Item> items);
    std::size_t queued() const;
    /// A fresh message id.
    std::int64_t nextId() { return _store.nextId(); }

private:
    void run();
    void runBatch(std::vector<Item>& batch);
    /// The transaction part of a batch; throws StoreError.
    void write(std::vector<Item>& batch);
    void deliver(std::vector<Item>& batch);
    /// Remote item, in the transaction: reads the messages that have a target here (deliver()
    /// marks the undelivered ones delivered once sent).
    void takeRemote(StoreTx& tx, Item& item);
    /// Publishes chat.stored with the messages of a committed batch.
    void announce(const std::vector<Item>& batch);

    MessagingStore& _store;
    Presence& _presence;
    EventBus& _bus;
    Poco::Logger& _logger;
    const std::int64_t _historyLimit;
    const std::size_t _maxBatch;
    const std::size_t _drainBytes;
    /// A commit starts at least this long after the previous one began (0: at once), so the
    /// messages that arrive meanwhile share its transaction.
    const std::chrono::microseconds _commitInterval;
    std::chrono::steady_clock::time_point _lastCommit{};
    Counter& _stored;
    Counter& _delivered;
    Counter& _commits;
    Counter& _failures;
    Counter& _remote;

    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<Item> _queue;
    /// Drains waiting for their connection to take what was sent (writer thread only).
    std::vector<Item> _deferred;
    bool _stopping = false;
    /// The writer sleeps until an item arrives (push wakes it); while it gathers a batch, only
    /// a full batch does.
    bool _idle = false;
    bool _gathering = false;
    std::thread _thread;
};

}  // namespace switchboard::messaging
