// The messaging plugin's table: every message (its delivered JSON) with its conversation (the
// two account ids, smaller first, for history) and whether it reached a live connection of its
// receiver (the undelivered ones are sent at the receiver's next login). Ids are assigned here,
// in memory, so a batch of messages is a few multi-row INSERTs.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/Store.h"

namespace switchboard::messaging {

/// A message as sent (sender, reciever, msg, ts) and as stored: `body`, its delivered JSON
/// ({"sender", "reciever", "msg", "ts"}), sent as is by HIS and the offline drain. Rows read
/// back carry the ids, body and delivered flag only.
struct StoredMessage {
    std::int64_t id = 0;
    std::int64_t senderId = 0;
    std::int64_t receiverId = 0;
    std::string sender;
    std::string reciever;
    std::string msg;
    double ts = 0;
    std::string body;
    bool delivered = false;
};

class MessagingStore {
public:
    /// Runs the migrations and reads the highest id. Throws StoreError.
    explicit MessagingStore(Store& store);

    Store& store() { return _store; }
    std::int64_t nextId() { return _nextId.fetch_add(1); }

    /// Inserts the messages (multi-row statements).
    void insert(StoreTx& tx, const std::vector<const StoredMessage*>& messages);
    /// The last `limit` messages between accounts a and b, oldest first.
    std::vector<StoredMessage> history(StoreTx& tx, std::int64_t a, std::int64_t b,
                                       std::int64_t limit);
    /// The oldest undelivered messages to `receiverId` (at most `limit`, and no more than
    /// `maxBytes` of bodies after the first), marked delivered.
    std::vector<StoredMessage> takeUndelivered(StoreTx& tx, std::int64_t receiverId,
                                               std::int64_t limit, std::size_t maxBytes);
    void markUndelivered(StoreTx& tx, std::int64_t id);
    /// Deletes every message the account sent or received.
    void forget(StoreTx& tx, std::int64_t accountId);
    std::int64_t undeliveredCount();

private:
    static std::vector<StoredMessage> rows(const std::vector<SqlRow>& rows);

    Store& _store;
    std::atomic<std::int64_t> _nextId{1};
};

}  // namespace switchboard::messaging
