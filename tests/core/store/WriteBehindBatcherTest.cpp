// The write-behind batcher on its own: it holds memory only and hands batches to its sink, so
// these tests give it a recording sink instead of a store.
#include <gtest/gtest.h>

#include <stdexcept>

#include "store/WriteBehindBatcher.h"

using namespace switchboard;

namespace {

/// Records every batch; fails while `failing` is set.
class RecordingSink : public WriteBehindBatcher::Sink {
public:
    void writeBatch(const std::string& sql, const WriteBehindBatcher::Pending& rows) override {
        if (failing) {
            throw StoreError("sink refuses");
        }
        lastSql = sql;
        batches.push_back(rows);
    }
    bool failing = false;
    std::string lastSql;
    std::vector<WriteBehindBatcher::Pending> batches;
};

std::int64_t seqOf(const WriteBehindBatcher::Pending& rows, const std::string& key) {
    return std::get<std::int64_t>(rows.at(key).at(1));
}

}  // namespace

TEST(WriteBehindBatcherTest, FlushHandsTheLatestParamsPerKeyToTheSink) {
    RecordingSink sink;
    WriteBehindBatcher batcher(sink, "hb", "UPDATE hb SET seq = $2 WHERE key = $1");
    batcher.put("a", {std::string("a"), std::int64_t{1}});
    batcher.put("b", {std::string("b"), std::int64_t{1}});
    batcher.put("a", {std::string("a"), std::int64_t{2}});
    EXPECT_EQ(batcher.pending(), 2u);
    batcher.flush();
    ASSERT_EQ(sink.batches.size(), 1u);
    EXPECT_EQ(sink.lastSql, "UPDATE hb SET seq = $2 WHERE key = $1");
    EXPECT_EQ(sink.batches[0].size(), 2u);
    EXPECT_EQ(seqOf(sink.batches[0], "a"), 2);
    EXPECT_EQ(seqOf(sink.batches[0], "b"), 1);
    EXPECT_EQ(batcher.pending(), 0u);
    batcher.flush();  // nothing pending: the sink is not called
    EXPECT_EQ(sink.batches.size(), 1u);
}

TEST(WriteBehindBatcherTest, DiscardedKeysNeverReachTheSink) {
    RecordingSink sink;
    WriteBehindBatcher batcher(sink, "hb", "x");
    batcher.put("a", {std::string("a"), std::int64_t{1}});
    batcher.put("b", {std::string("b"), std::int64_t{1}});
    batcher.discard("a");
    batcher.flush();
    ASSERT_EQ(sink.batches.size(), 1u);
    EXPECT_EQ(sink.batches[0].count("a"), 0u);
    EXPECT_EQ(sink.batches[0].count("b"), 1u);
}

TEST(WriteBehindBatcherTest, AFailingSinkKeepsTheBatchButNewerPutsWin) {
    RecordingSink sink;
    WriteBehindBatcher batcher(sink, "hb", "x");
    batcher.put("a", {std::string("a"), std::int64_t{1}});
    batcher.put("b", {std::string("b"), std::int64_t{1}});
    sink.failing = true;
    EXPECT_THROW(batcher.flush(), StoreError);
    EXPECT_EQ(batcher.pending(), 2u);
    batcher.put("a", {std::string("a"), std::int64_t{5}});
    sink.failing = false;
    batcher.flush();
    ASSERT_EQ(sink.batches.size(), 1u);
    EXPECT_EQ(seqOf(sink.batches[0], "a"), 5);
    EXPECT_EQ(seqOf(sink.batches[0], "b"), 1);
}

TEST(WriteBehindBatcherTest, RefusesNulTextAtPutAndThrowsOnceDetached) {
    RecordingSink sink;
    WriteBehindBatcher batcher(sink, "hb", "x");
    EXPECT_THROW(batcher.put("a", {std::string("a\0b", 3)}), StoreError);
    EXPECT_EQ(batcher.pending(), 0u);
    batcher.detach();
    batcher.put("a", {std::string("a")});  // still recorded
    EXPECT_EQ(batcher.pending(), 1u);
    EXPECT_THROW(batcher.flush(), StoreError);
    EXPECT_TRUE(sink.batches.empty());
}
