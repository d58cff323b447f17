// The messaging table and its queries (see MessagingStore.h).
#include "MessagingStore.h"

#include <algorithm>

namespace switchboard::messaging {

namespace {

const std::vector<Migration> kMigrations = {
    {1,
     {"CREATE TABLE messaging_messages (id BIGINT PRIMARY KEY, conv_lo BIGINT NOT NULL, "
      "conv_hi BIGINT NOT NULL, sender_id BIGINT NOT NULL, receiver_id BIGINT NOT NULL, "
      "body TEXT NOT NULL, delivered BIGINT NOT NULL)",
      "CREATE INDEX messaging_messages_conversation ON messaging_messages (conv_lo, conv_hi, id)",
      "CREATE INDEX messaging_messages_undelivered ON messaging_messages (receiver_id, id) "
      "WHERE delivered = 0"}},
};

constexpr const char* kColumns = "id, sender_id, receiver_id, body, delivered";
// SQLite looks up each numbered parameter ($n) by name in a list, so a statement's cost grows
// with the square of its parameters: the numbers (ids we made, never client input) are
// written into the SQL, only the body is a parameter, and a batch is several INSERTs.
constexpr std::size_t kRowsPerInsert = 32;

}  // namespace

MessagingStore::MessagingStore(Store& store) : _store(store) {
    _store.migrate("messaging", kMigrations);
    auto max = _store.query("SELECT MAX(id) FROM messaging_messages");
    _nextId = (max.empty() ? 0 : max.front().getInt(0)) + 1;
}

void MessagingStore::insert(StoreTx& tx, const std::vector<const StoredMessage*>& messages) {
    for (std::size_t start = 0; start < messages.size(); start += kRowsPerInsert) {
        std::size_t end = std::min(messages.size(), start + kRowsPerInsert);
        std::string sql =
            "INSERT INTO messaging_messages (id, conv_lo, conv_hi, sender_id, receiver_id, body, "
            "delivered) VALUES ";
        SqlParams params;
        params.reserve(end - start);
        for (std::size_t i = start; i < end; ++i) {
            const StoredMessage& m = *messages[i];
            params.emplace_back(m.body);
            sql += i == start ? "(" : ",(";
            for (std::int64_t n : {m.id, std::min(m.senderId, m.receiverId),
                                   std::max(m.senderId, m.receiverId), m.senderId, m.receiverId}) {
                sql += std::to_string(n);
                sql += ',';
            }
            sql += '$';
            sql += std::to_string(params.size());
            sql += m.delivered ? ",1)" : ",0)";
        }
        tx.execute(sql, params);
    }
}

std::vector<StoredMessage> MessagingStore::rows(const std::vector<SqlRow>& rows) {
    std::vector<StoredMessage> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
        StoredMessage m;
        m.id = r.getInt(0);
        m.senderId = r.getInt(1);
        m.receiverId = r.getInt(2);
        m.body = r.getString(3);
        m.delivered = r.getInt(4) != 0;
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<StoredMessage> MessagingStore::history(StoreTx& tx, std::int64_t a, std::int64_t b,
                                                   std::int64_t limit) {
    auto out = rows(tx.query(std::string("SELECT ") + kColumns +
                                 " FROM messaging_messages WHERE conv_lo = $1 AND conv_hi = $2 "
                                 "ORDER BY id DESC LIMIT $3",
                             {std::min(a, b), std::max(a, b), limit}));
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<StoredMessage> MessagingStore::takeUndelivered(StoreTx& tx, std::int64_t receiverId,
                                                           std::int64_t limit,
                                                           std::size_t maxBytes) {
    auto out = rows(tx.query(std::string("SELECT ") + kColumns +
                                 " FROM messaging_messages WHERE receiver_id = $1 AND "
                                 "delivered = 0 ORDER BY id LIMIT $2",
                             {receiverId, limit}));
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        bytes += out[i].body.size();
        if (i > 0 && bytes > maxBytes) {
            out.resize(i);
            break;
        }
    }
    if (!out.empty()) {
        tx.execute(
            "UPDATE messaging_messages SET delivered = 1 WHERE receiver_id = $1 AND "
            "delivered = 0 AND id <= $2",
            {receiverId, out.back().id});
    }
    return out;
}

void MessagingStore::markUndelivered(StoreTx& tx, std::int64_t id) {
    tx.execute("UPDATE messaging_messages SET delivered = 0 WHERE id = $1", {id});
}

void MessagingStore::forget(StoreTx& tx, std::int64_t accountId) {
    // No index by account: every message would write one more index page at a random place
    // of the file (the cost of a commit is its pages), for a rare account deletion that scans.
    tx.execute("DELETE FROM messaging_messages WHERE sender_id = $1 OR receiver_id = $1",
               {accountId});
}

std::int64_t MessagingStore::undeliveredCount() {
    auto r = _store.query("SELECT COUNT(*) FROM messaging_messages WHERE delivered = 0");
    return r.empty() ? 0 : r.front().getInt(0);
}

}  // namespace switchboard::messaging
