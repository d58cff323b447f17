// Group commit and ordered sending (see MessageWriter.h).
#include "MessageWriter.h"

#include <Poco/Logger.h>

#include <chrono>
#include <unordered_map>

#include "ChatFrames.h"
#include "MessagingEvents.h"
#include "switchboard/ThreadName.h"

namespace switchboard::messaging {

namespace {
/// Undelivered messages sent per drain item (and at most send_budget bytes, so the
/// connection's outbound queue never fills with them); the rest follow in a later batch.
constexpr std::int64_t kDrainChunk = 200;
}  // namespace

MessageWriter::MessageWriter(MessagingStore& store, Presence& presence, EventBus& bus,
                             Poco::Logger& logger, Metrics& metrics, std::int64_t historyLimit,
                             std::size_t maxBatch, std::size_t drainBytes,
                             std::chrono::microseconds commitInterval)
    : _store(store),
      _presence(presence),
      _bus(bus),
      _logger(logger),
      _historyLimit(historyLimit),
      _maxBatch(maxBatch),
      _drainBytes(drainBytes),
      _commitInterval(commitInterval),
      _stored(metrics.counter("messages_stored_total", "Messages committed to the store")),
      _delivered(metrics.counter("messages_delivered_total",
                                 "Messages handed to a live connection of their receiver")),
      _commits(metrics.counter("commits_total", "Transactions of the message writer")),
      _failures(metrics.counter("commit_failures_total",
                                "Writer transactions that failed (their senders got ERR)")),
      _remote(metrics.counter("messages_remote_delivered_total",
                              "Messages stored by another node handed to a live connection "
                              "here (also counted in messages_delivered_total)")) {}

MessageWriter::~MessageWriter() {
    stop();
}

void MessageWriter::start() {
    _thread = std::thread([this] {
        nameThisThread("sb-chat-writer");
        run();
    });
}

void MessageWriter::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) {
        _thread.join();
    }
}

void MessageWriter::push(Item item) {
    if (item.session) {
        item.session->inflight.fetch_add(1);
    }
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _queue.push_back(std::move(item));
        wake = _idle || (_gathering && _queue.size() >= _maxBatch);
    }
    if (wake) {
        _wake.notify_one();
    }
}

void MessageWriter::send(const std::shared_ptr<ChatSession>& session, const StreamPtr& conn,
                         std::string bytes, bool closeAfter) {
    if (session->inflight.load() == 0) {
        conn->send(bytes);
        if (closeAfter) {
            conn->close();
        }
        return;
    }
    Item item;
    item.kind = Item::Kind::Reply;
    item.conn = conn;
    item.session = session;
    item.frame = std::move(bytes);
    item.closeAfter = closeAfter;
    push(std::move(item));
}

void MessageWriter::pushAll(std::vector<Item> items) {
    for (auto& item : items) {
        if (item.session) {
            item.session->inflight.fetch_add(1);
        }
    }
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        for (auto& item : items) {
            _queue.push_back(std::move(item));
        }
        wake = _idle || (_gathering && _queue.size() >= _maxBatch);
    }
    if (wake) {
        _wake.notify_one();
    }
}

std::size_t MessageWriter::queued() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _queue.size();
}

void MessageWriter::run() {
    std::vector<Item> batch;
    for (;;) {
        // Drains whose connection has taken its last chunk (or closed) go first.
        for (auto it = _deferred.begin(); it != _deferred.end();) {
            if (!it->conn->isOpen()) {
                it->session->inflight.fetch_sub(1);
                it = _deferred.erase(it);
            } else if (it->conn->queued() <= _drainBytes) {
                batch.push_back(std::move(*it));
                it = _deferred.erase(it);
            } else {
                ++it;
            }
        }
        {
            std::unique_lock<std::mutex> lock(_mutex);
            if (batch.empty()) {
                auto ready = [this] { return _stopping || !_queue.empty(); };
                _idle = true;
                bool woken = true;
                if (_deferred.empty()) {
                    _wake.wait(lock, ready);
                } else {
                    woken = _wake.wait_for(lock, std::chrono::milliseconds(5), ready);
                }
                _idle = false;
                if (!woken) {
                    continue;  // look at the deferred drains again
                }
                if (_queue.empty()) {
                    break;  // stopping, nothing left
                }
            }
            // Group commit: a commit right after the previous one waits out the interval (or
            // for a full batch), so under load one transaction carries every message of it,
            // instead of one commit per message each time the writer catches up.
            auto due = _lastCommit + _commitInterval;
            auto full = [this, &batch] {
                return _stopping || batch.size() + _queue.size() >= _maxBatch;
            };
            if (_commitInterval.count() > 0 && !full() && std::chrono::steady_clock::now() < due) {
                _gathering = true;
                _wake.wait_until(lock, due, full);
                _gathering = false;
            }
            while (!_queue.empty() && batch.size() < _maxBatch) {
                batch.push_back(std::move(_queue.front()));
                _queue.pop_front();
            }
        }
        _lastCommit = std::chrono::steady_clock::now();
        runBatch(batch);
        batch.clear();
    }
    for (auto& item : _deferred) {  // stopping: those messages wait for the next login
        item.session->inflight.fetch_sub(1);
    }
    _deferred.clear();
}

void MessageWriter::runBatch(std::vector<Item>& batch) {
    bool needsStore = false;
    for (const auto& item : batch) {
        needsStore = needsStore || item.kind != Item::Kind::Reply;
    }
    if (needsStore) {
        try {
            write(batch);
            _commits.inc();
            announce(batch);
        } catch (const std::exception& e) {
            _failures.inc();
            _logger.error("cannot store %z chat item(s): %s", batch.size(), std::string(e.what()));
            for (auto& item : batch) {
                item.failed = true;
            }
        }
    }
    deliver(batch);
}

void MessageWriter::write(std::vector<Item>& batch) {
    _store.store().transaction([&](StoreTx& tx) {
        std::vector<const StoredMessage*> pending;
        auto flush = [&] {
            _store.insert(tx, pending);
            pending.clear();
        };
        for (auto& item : batch) {
            item.targets.clear();
            item.out.clear();
            switch (item.kind) {
                case Item::Kind::Message:
                    item.targets = _presence.targets(item.message.receiverId);
                    item.message.delivered = !item.targets.empty();
                    pending.push_back(&item.message);
                    break;
                case Item::Kind::History: {
                    flush();
                    auto messages = _store.history(tx, item.userId, item.otherId, _historyLimit);
                    item.out = ChatFrames::history(messages);
                    break;
                }
                case Item::Kind::Drain: {
                    flush();
                    bool found = false;
                    auto messages =
                        _store.takeUndelivered(tx, item.userId, kDrainChunk, _drainBytes,
                                               item.session->deliveryMark, found);
                    item.ids.clear();
                    for (const auto& m : messages) {
                        item.out.push_back(FrameCodec::encode(FrameType::MSG, m.body));
                        item.ids.push_back(m.id);
                    }
                    // Live delivery starts once a drain finds nothing left, so a live message
                    // never overtakes an older stored one: until then messages to the account
                    // are stored undelivered and come with the next chunk.
                    item.more = found;
                    if (!item.more) {
                        _presence.add(item.userId, item.conn, *item.session);
                    }
                    break;
                }
                case Item::Kind::Forget:
                    flush();
                    _store.forget(tx, item.userId);
                    break;
                case Item::Kind::Remote:
                    flush();
                    takeRemote(tx, item);
                    break;
                case Item::Kind::Reply:
                    break;
            }
        }
        flush();
    });
}

void MessageWriter::takeRemote(StoreTx& tx, Item& item) {
    item.deliveries.clear();
    std::unordered_map<std::int64_t, std::vector<Presence::Target>> targets;
    std::vector<std::int64_t> ids;
    for (const auto& stored : item.remote) {
        auto it = targets.find(stored.receiverId);
        if (it == targets.end()) {
            it = targets.emplace(stored.receiverId, _presence.marked(stored.receiverId)).first;
        }
        if (!it->second.empty()) {
            ids.push_back(stored.id);
        }
    }
    if (ids.empty()) {
        return;
    }
    for (auto& m : _store.byIds(tx, ids)) {
        auto it = targets.find(m.receiverId);
        if (it == targets.end()) {
            continue;
        }
        Item::Delivery d;
        d.id = m.id;
        // Every connection live here gets it, except one whose drain took it from the store
        // (it was stored undelivered and that login read it before this announcement came).
        for (const auto& t : it->second) {
            if (t.mark != m.deliveredMark) {
                d.targets.push_back(t.conn);
            }
        }
        if (d.targets.empty()) {
            continue;
        }
        d.undelivered = m.deliveredMark == 0;
        d.frame = FrameCodec::encode(FrameType::MSG, m.body);
        item.deliveries.push_back(std::move(d));
    }
}

void MessageWriter::announce(const std::vector<Item>& batch) {
    std::vector<std::pair<std::int64_t, std::int64_t>> stored;
    for (const auto& item : batch) {
        if (item.kind == Item::Kind::Message) {
            stored.emplace_back(item.message.id, item.message.receiverId);
        }
    }
    if (!stored.empty()) {
        _bus.publish("chat.stored", MessagingEvents::stored(stored));
    }
}

void MessageWriter::deliver(std::vector<Item>& batch) {
    std::vector<std::int64_t> undelivered;
    std::vector<std::int64_t> delivered;  ///< other nodes' messages a connection here took
    for (auto& item : batch) {
        switch (item.kind) {
            case Item::Kind::Message:
                if (item.failed) {
                    item.conn->send(ChatFrames::err(
                        "Message not stored (the store is unavailable); send it again"));
                    break;
                }
                _stored.inc();
                item.conn->send(ChatFrames::ack());
                if (!item.targets.empty()) {
                    bool any = false;
                    for (const auto& target : item.targets) {
                        any = target->send(item.frame) || any;
                    }
                    if (any) {
                        _delivered.inc();
                    } else {
                        undelivered.push_back(item.message.id);  // every target closed meanwhile
                    }
                }
                break;
            case Item::Kind::Reply:
                item.conn->send(item.frame);
                if (item.closeAfter) {
                    item.conn->close();
                }
                break;
            case Item::Kind::History:
                if (item.failed) {
                    item.conn->send(ChatFrames::err("History unavailable; try again"));
                    break;
                }
                for (const auto& frame : item.out) {
                    item.conn->send(frame);
                }
                break;
            case Item::Kind::Drain:
                if (item.failed) {
                    break;  // the messages stay undelivered: they come at the next login
                }
                for (std::size_t i = 0; i < item.out.size(); ++i) {
                    if (item.conn->send(item.out[i])) {
                        _delivered.inc();
                    } else {  // closed meanwhile (or overflowed): they wait for the next login
                        undelivered.insert(undelivered.end(), item.ids.begin() + i, item.ids.end());
                        item.more = false;
                        break;
                    }
                }
                if (item.more && item.conn->isOpen()) {
                    Item more;
                    more.kind = Item::Kind::Drain;
                    more.conn = item.conn;
                    more.session = item.session;
                    more.userId = item.userId;
                    // The next chunk once the peer has taken this one (stream.max_outbound).
                    more.session->inflight.fetch_add(1);
                    _deferred.push_back(std::move(more));
                }
                break;
            case Item::Kind::Remote:
                if (item.failed) {
                    break;  // undelivered in the store: they come at the next login
                }
                for (const auto& d : item.deliveries) {
                    bool any = false;
                    for (const auto& target : d.targets) {
                        any = target->send(d.frame) || any;
                    }
                    if (any) {
                        _delivered.inc();
                        _remote.inc();
                        if (d.undelivered) {
                            delivered.push_back(d.id);
                        }
                    }
                }
                break;
            case Item::Kind::Forget:
                break;
        }
        if (item.session) {
            item.session->inflight.fetch_sub(1);
        }
    }
    if (!undelivered.empty() || !delivered.empty()) {
        // Outside the batch's transaction: marking another node's messages delivered holds
        // no row lock while this node's other items run (two nodes' batches never wait for
        // each other on them), and only what a connection here took is marked.
        try {
            _store.store().transaction([&](StoreTx& tx) {
                for (std::int64_t id : undelivered) {
                    _store.markUndelivered(tx, id);
                }
                _store.markDelivered(tx, delivered);
            });
        } catch (const std::exception& e) {
            _logger.error("cannot mark %z message(s) undelivered and %z delivered: %s",
                          undelivered.size(), delivered.size(), std::string(e.what()));
        }
    }
}

}  // namespace switchboard::messaging
