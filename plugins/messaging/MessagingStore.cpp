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
    // Several nodes on one store: each takes a slot for its message ids at start (MessageIds).
    {2,
     {"CREATE TABLE messaging_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
      "INSERT INTO messaging_counters (name, value) VALUES ('id_slot', 0)"}},
};

constexpr const char* kColumns = "id, sender_id, receiver_id, body, delivered";
/// Rows per multi-row INSERT on PostgreSQL. The numbers (ids we made, never client input) are
/// written into the SQL and only the body is a parameter: fewer parameters to bind and count.
constexpr std::size_t kRowsPerInsert = 32;
/// Ids per IN (...) list (written into the SQL: numbers of our own, never client text).
constexpr std::size_t kIdsPerStatement = 500;

}  // namespace

MessagingStore::MessagingStore(Store& store) : _store(store), _sqlite(store.backend() == "sqlite") {
    _store.migrate("messaging", kMigrations);
    std::int64_t slot = 0;
    _store.transaction([&](StoreTx& tx) {  // the row lock orders the nodes that start at once
        tx.execute("UPDATE messaging_counters SET value = value + 1 WHERE name = 'id_slot'");
        auto r = tx.query("SELECT value FROM messaging_counters WHERE name = 'id_slot'");
        slot = r.empty() ? 0 : r.front().getInt(0);
    });
    auto max = _store.query("SELECT MAX(id) FROM messaging_messages");
    _ids = std::make_unique<MessageIds>(slot, max.empty() ? 0 : max.front().getInt(0));
}

std::string MessagingStore::inList(const std::vector<std::int64_t>& ids, std::size_t from,
                                   std::size_t to) {
    std::string sql = " IN (";
    for (std::size_t i = from; i < to; ++i) {
        sql += i == from ? "" : ",";
        sql += std::to_string(ids[i]);
    }
    return sql + ")";
}

void MessagingStore::insert(StoreTx& tx, const std::vector<const StoredMessage*>& messages) {
    if (messages.empty()) {
        return;
    }
    if (_sqlite) {
        // In process, no round trips: one statement prepared once and run per row is cheaper
        // than compiling multi-row INSERTs (a fifth of the writer thread's time at 25,000
        // messages/s).
        std::vector<SqlParams> rows;
        rows.reserve(messages.size());
        for (const StoredMessage* m : messages) {
            rows.push_back({m->id, std::min(m->senderId, m->receiverId),
                            std::max(m->senderId, m->receiverId), m->senderId, m->receiverId,
                            m->body, std::int64_t{m->delivered ? 1 : 0}});
        }
        tx.executeEach(
            "INSERT INTO messaging_messages (id, conv_lo, conv_hi, sender_id, receiver_id, body, "
            "delivered) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            std::move(rows));
        return;
    }
    // PostgreSQL: a round trip per statement, so rows go kRowsPerInsert to a statement.
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
        m.deliveredMark = r.getInt(4);
        m.delivered = m.deliveredMark != 0;
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
                                                           std::int64_t limit, std::size_t maxBytes,
                                                           std::int64_t mark, bool& found) {
    auto out = rows(tx.query(std::string("SELECT ") + kColumns +
                                 " FROM messaging_messages WHERE receiver_id = $1 AND "
                                 "delivered = 0 ORDER BY id LIMIT $2",
                             {receiverId, limit}));
    found = !out.empty();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        bytes += out[i].body.size();
        if (i > 0 && bytes > maxBytes) {
            out.resize(i);
            break;
        }
    }
    if (out.empty()) {
        return out;
    }
    // By id, not "id <= the last one": another node may commit a smaller id meanwhile, which
    // this drain has not read. On PostgreSQL a drain of the same account on another node
    // holds the rows it took until it commits; then they are no longer 0 here, and stay its.
    std::vector<std::int64_t> ids;
    ids.reserve(out.size());
    for (const auto& m : out) {
        ids.push_back(m.id);
    }
    std::int64_t taken = tx.execute(
        "UPDATE messaging_messages SET delivered = $1 WHERE "
        "delivered = 0 AND id" +
            inList(ids, 0, ids.size()),
        {mark});
    if (taken == static_cast<std::int64_t>(out.size())) {
        return out;
    }
    auto mine = tx.query("SELECT id FROM messaging_messages WHERE delivered = $1 AND id" +
                             inList(ids, 0, ids.size()),
                         {mark});
    std::vector<std::int64_t> kept;
    for (const auto& r : mine) {
        kept.push_back(r.getInt(0));
    }
    std::sort(kept.begin(), kept.end());
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const StoredMessage& m) {
                                 return !std::binary_search(kept.begin(), kept.end(), m.id);
                             }),
              out.end());
    return out;
}

std::vector<StoredMessage> MessagingStore::byIds(StoreTx& tx,
                                                 const std::vector<std::int64_t>& ids) {
    std::vector<StoredMessage> out;
    for (std::size_t start = 0; start < ids.size(); start += kIdsPerStatement) {
        std::size_t end = std::min(ids.size(), start + kIdsPerStatement);
        auto part =
            rows(tx.query(std::string("SELECT ") + kColumns + " FROM messaging_messages WHERE id" +
                          inList(ids, start, end) + " ORDER BY id"));
        out.insert(out.end(), std::make_move_iterator(part.begin()),
                   std::make_move_iterator(part.end()));
    }
    std::sort(out.begin(), out.end(),
              [](const StoredMessage& x, const StoredMessage& y) { return x.id < y.id; });
    return out;
}

void MessagingStore::markDelivered(StoreTx& tx, const std::vector<std::int64_t>& ids) {
    for (std::size_t start = 0; start < ids.size(); start += kIdsPerStatement) {
        std::size_t end = std::min(ids.size(), start + kIdsPerStatement);
        tx.execute("UPDATE messaging_messages SET delivered = 1 WHERE delivered = 0 AND id" +
                   inList(ids, start, end));
    }
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
