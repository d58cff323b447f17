// The messaging plugin's table: every message (its delivered JSON) with its conversation (the
// two account ids, smaller first, for history) and whether it reached a live connection of its
// receiver (the undelivered ones are sent at the receiver's next login). Ids are assigned here,
// in memory (MessageIds: time-ordered, unique across the nodes of one store), so a batch of
// messages is one INSERT prepared once and run per row on SQLite (StoreTx::executeEach), and
// multi-row INSERTs on PostgreSQL (a round trip per statement).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "MessageIds.h"
#include "switchboard/Store.h"

namespace switchboard::messaging {

/// A message as sent (sender, reciever, msg, ts) and as stored: `body`, its delivered JSON
/// ({"sender", "reciever", "msg", "ts"}), sent as is by HIS and the offline drain. Rows read
/// back carry the ids, body and delivered flag only.
///
/// The stored `delivered` column: 0 until a live connection of the receiver has it (then the
/// next login sends it), 1 once one has it live, or the delivery mark of the login whose
/// offline drain took it (ChatSession::deliveryMark), so that another node's live delivery
/// of the same message skips exactly that connection.
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
    std::int64_t deliveredMark = 0;  ///< rows read back: the stored delivered column
};

class MessagingStore {
public:
    /// Runs the migrations, takes this node's id slot and reads the highest id. Throws
    /// StoreError.
    explicit MessagingStore(Store& store);

    Store& store() { return _store; }
    std::int64_t nextId() { return _ids->next(); }
    std::int64_t idSlot() const { return _ids->slot(); }

    /// Inserts the messages.
    void insert(StoreTx& tx, const std::vector<const StoredMessage*>& messages);
    /// The last `limit` messages between accounts a and b, oldest first.
    std::vector<StoredMessage> history(StoreTx& tx, std::int64_t a, std::int64_t b,
                                       std::int64_t limit);
    /// The oldest undelivered messages to `receiverId` (at most `limit`, and no more than
    /// `maxBytes` of bodies after the first) that this call marked delivered with `mark`: a
    /// drain of another node that took one first keeps it. `found` tells whether any
    /// undelivered message was seen (taken here or not).
    std::vector<StoredMessage> takeUndelivered(StoreTx& tx, std::int64_t receiverId,
                                               std::int64_t limit, std::size_t maxBytes,
                                               std::int64_t mark, bool& found);
    /// The messages with these ids that are still stored, by id.
    std::vector<StoredMessage> byIds(StoreTx& tx, const std::vector<std::int64_t>& ids);
    /// Marks those of `ids` that are undelivered delivered (1).
    void markDelivered(StoreTx& tx, const std::vector<std::int64_t>& ids);
    void markUndelivered(StoreTx& tx, std::int64_t id);
    /// Deletes every message the account sent or received.
    void forget(StoreTx& tx, std::int64_t accountId);
    std::int64_t undeliveredCount();

private:
    static std::vector<StoredMessage> rows(const std::vector<SqlRow>& rows);
    /// " IN (1,2,...)" of ids[from, to).
    static std::string inList(const std::vector<std::int64_t>& ids, std::size_t from,
                              std::size_t to);

    Store& _store;
    const bool _sqlite;  ///< the backend: how insert() batches
    std::unique_ptr<MessageIds> _ids;
};

}  // namespace switchboard::messaging
