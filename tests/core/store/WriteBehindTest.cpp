// Write-behind batching against a real SQLite file (and, as ctest's pg.WriteBehindTest.*, a real
// PostgreSQL cluster): latest value per key wins, discard, the flusher thread, close()
// flushing, and failed flushes keeping (only the right) entries.
#include "TestSupport.h"
#include "store/DataStore.h"

#include <gtest/gtest.h>

#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

using namespace switchboard;
using switchboard::test::TempDir;

namespace {

constexpr std::chrono::milliseconds kNoAutoFlush{std::chrono::hours(1)};
const std::string kUpsert =
    "INSERT INTO hb (key, seq, at) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, at = excluded.at";
const std::string kCreate =
    "CREATE TABLE hb (key TEXT PRIMARY KEY, seq BIGINT, at DOUBLE PRECISION)";

/// Polls `done` until it holds or a generous deadline passes (no fixed sleeps).
bool eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
}

SqlParams beat(const std::string& key, std::int64_t seq) {
    return {key, seq, static_cast<double>(seq) / 2};
}

bool onPostgres() {
    return switchboard::test::testBackend() == "postgresql";
}

// WriteBehindTest.Sqlite* is not registered as pg.* (tests/CMakeLists.txt): SQLite-specific.
#define SQLITE_ONLY(why) ASSERT_FALSE(onPostgres()) << "SQLite-specific: " why

class WriteBehindTest : public testing::Test {
protected:
    std::unique_ptr<DataStore> open(std::chrono::milliseconds interval = kNoAutoFlush) {
        return DataStore::open(_url, _dir.path(), interval);
    }
    static std::int64_t count(Store& store) {
        return store.query("SELECT COUNT(*) FROM hb").at(0).getInt(0);
    }
    static std::int64_t seqOf(Store& store, const std::string& key) {
        auto rows = store.query("SELECT seq FROM hb WHERE key = $1", {key});
        return rows.empty() ? -1 : rows[0].getInt(0);
    }
    TempDir _dir;
    const std::string _url =
        onPostgres() ? switchboard::test::storeUrl(_dir, "wb") : "sqlite:wb.db";
};

}  // namespace

TEST_F(WriteBehindTest, KeepsOnlyTheLatestParamsPerKey) {
    auto store = open();
    store->execute(kCreate);
    auto wb = store->writeBehind("hb", kUpsert);
    for (std::int64_t i = 0; i < 10000; ++i) {
        wb->put("k" + std::to_string(i % 100), beat("k" + std::to_string(i % 100), i));
    }
    EXPECT_EQ(wb->pending(), 100u);
    EXPECT_EQ(store->stats().pending, 100u);
    EXPECT_EQ(count(*store), 0);  // nothing written before a flush

    wb->flush();
    EXPECT_EQ(wb->pending(), 0u);
    EXPECT_EQ(count(*store), 100);
    for (int k = 0; k < 100; ++k) {
        EXPECT_EQ(seqOf(*store, "k" + std::to_string(k)), 9900 + k);
    }
    auto rows = store->query("SELECT at FROM hb WHERE key = 'k7'");
    EXPECT_EQ(rows.at(0).getDouble(0), 9907 / 2.0);
    auto stats = store->stats();
    EXPECT_EQ(stats.flushes, 1u);
    EXPECT_EQ(stats.flushedRows, 100u);
    EXPECT_EQ(stats.flushErrors, 0u);
    EXPECT_EQ(stats.pending, 0u);
    wb->flush();  // nothing pending: no empty transaction counted
    EXPECT_EQ(store->stats().flushes, 1u);
}

TEST_F(WriteBehindTest, ConcurrentPutsWhileFlushingLoseNothing) {
    auto store = open(std::chrono::milliseconds(5));
    store->execute(kCreate);
    auto wb = store->writeBehind("hb", kUpsert);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (std::int64_t i = 0; i < 5000; ++i) {
                std::string key = "t" + std::to_string(t) + "-" + std::to_string(i % 50);
                wb->put(key, beat(key, i));
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    wb->flush();
    EXPECT_EQ(count(*store), 200);
    for (int t = 0; t < 4; ++t) {
        for (int k = 0; k < 50; ++k) {
            EXPECT_EQ(seqOf(*store, "t" + std::to_string(t) + "-" + std::to_string(k)), 4950 + k);
        }
    }
}

TEST_F(WriteBehindTest, DiscardDropsAPendingUpdate) {
    auto store = open();
    store->execute(kCreate);
    auto wb = store->writeBehind("hb", kUpsert);
    wb->put("a", beat("a", 1));
    wb->put("b", beat("b", 2));
    wb->discard("a");
    wb->discard("never-put");
    EXPECT_EQ(wb->pending(), 1u);
    wb->flush();
    EXPECT_EQ(count(*store), 1);
    EXPECT_EQ(seqOf(*store, "b"), 2);
    EXPECT_EQ(seqOf(*store, "a"), -1);
}

TEST_F(WriteBehindTest, CloseFlushesWhatIsPending) {
    auto store = open();
    store->execute(kCreate);
    auto wb = store->writeBehind("hb", kUpsert);
    wb->put("a", beat("a", 5));
    store->close();
    EXPECT_EQ(store->stats().flushedRows, 1u);
    EXPECT_THROW(wb->flush(), StoreError);  // detached: no access to a closed store
    wb->put("late", beat("late", 1));       // accepted, never written
    store.reset();

    auto reopened = open();
    EXPECT_EQ(count(*reopened), 1);
    EXPECT_EQ(seqOf(*reopened, "a"), 5);
}

TEST_F(WriteBehindTest, FlusherThreadFlushesOnItsOwn) {
    auto store = open(std::chrono::milliseconds(50));
    store->execute(kCreate);
    auto wb = store->writeBehind("hb", kUpsert);
    wb->put("a", beat("a", 1));
    ASSERT_TRUE(eventually([&] { return seqOf(*store, "a") == 1; }));
    wb->put("a", beat("a", 2));
    ASSERT_TRUE(eventually([&] { return seqOf(*store, "a") == 2; }));
    // The flush's commit can be seen a moment before the flusher counts it done.
    EXPECT_TRUE(eventually([&] { return wb->pending() == 0; })) << wb->pending();
    EXPECT_GE(store->stats().flushes, 2u);
}

TEST_F(WriteBehindTest, ReleasedBatcherIsFlushedThenDropped) {
    // A plugin instance replaced by a reload lets go of its batcher: its last updates still
    // land, and the store does not keep the batcher forever.
    auto store = open(std::chrono::milliseconds(50));
    store->execute(kCreate);
    auto kept = store->writeBehind("kept", kUpsert);
    {
        auto released = store->writeBehind("released", kUpsert);
        released->put("r", beat("r", 7));
        EXPECT_EQ(store->stats().batchers, 2u);
    }
    ASSERT_TRUE(eventually([&] { return store->stats().batchers == 1; }));
    EXPECT_EQ(seqOf(*store, "r"), 7);
    kept->put("k", beat("k", 1));
    ASSERT_TRUE(eventually([&] { return seqOf(*store, "k") == 1; }));
}

TEST_F(WriteBehindTest, FailedFlushKeepsEntriesForTheNextOne) {
    auto store = open();
    auto wb = store->writeBehind("hb", kUpsert);  // table hb does not exist yet
    std::vector<std::string> lines;
    {
        switchboard::test::LogCapture capture("switchboard.store");
        wb->put("a", beat("a", 1));
        wb->put("b", beat("b", 1));
        EXPECT_THROW(wb->flush(), StoreError);
        lines = capture.messages();
    }
    ASSERT_EQ(lines.size(), 1u);
    if (onPostgres()) {
        EXPECT_EQ(lines[0].rfind("write-behind 'hb': flush of 2 rows failed, will retry: ", 0), 0u)
            << lines[0];
        EXPECT_NE(lines[0].find("relation \"hb\" does not exist"), std::string::npos) << lines[0];
    } else {
        EXPECT_EQ(lines[0],
                  "write-behind 'hb': flush of 2 rows failed, will retry: "
                  "Invalid SQL statement: no such table: hb: no such table: hb");
    }
    EXPECT_EQ(wb->pending(), 2u);
    EXPECT_EQ(store->stats().flushErrors, 1u);
    EXPECT_EQ(store->stats().flushes, 0u);

    store->execute(kCreate);
    wb->flush();
    EXPECT_EQ(count(*store), 2);
    EXPECT_EQ(store->stats().flushedRows, 2u);
}

TEST_F(WriteBehindTest, SqliteFailedFlushDoesNotOverwriteNewerPutsOrRevive_discards) {
    SQLITE_ONLY("holds the single-writer gate to park a flush mid-way");
    auto store = open();
    auto wb = store->writeBehind("hb", kUpsert);
    wb->put("a", beat("a", 1));
    wb->put("b", beat("b", 1));
    wb->put("c", beat("c", 1));

    // Hold the write mutex so the flush below swaps its batch out, then waits.
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::atomic<bool> holding{false};
    std::thread holder([&] {
        store->transaction([&](StoreTx&) {
            holding = true;
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return release; });
        });
    });
    ASSERT_TRUE(eventually([&] { return holding.load(); }));
    std::thread flusher([&] { EXPECT_THROW(wb->flush(), StoreError); });  // no table yet
    ASSERT_TRUE(eventually([&] { return wb->pending() == 0; }));
    wb->put("a", beat("a", 2));
    wb->discard("b");
    {
        std::lock_guard<std::mutex> lock(m);
        release = true;
    }
    cv.notify_all();
    holder.join();
    flusher.join();

    EXPECT_EQ(wb->pending(), 2u);  // a (newer) and c (restored); b stays discarded
    store->execute(kCreate);
    wb->flush();
    EXPECT_EQ(count(*store), 2);
    EXPECT_EQ(seqOf(*store, "a"), 2);
    EXPECT_EQ(seqOf(*store, "c"), 1);
    EXPECT_EQ(seqOf(*store, "b"), -1);
}

TEST_F(WriteBehindTest, SqliteLargeBatchWithMixedParameterTypesAndNulls) {
    SQLITE_ONLY("dynamic column types (a double in a BIGINT column)");
    auto store = open();
    store->execute("CREATE TABLE m (key TEXT PRIMARY KEY, v BIGINT, note TEXT)");
    auto wb = store->writeBehind("mixed",
                                 "INSERT INTO m (key, v, note) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (key) DO UPDATE SET v = excluded.v, "
                                 "note = excluded.note");
    for (std::int64_t i = 0; i < 30000; ++i) {
        SqlParams row{"k" + std::to_string(i), nullptr, nullptr};
        if (i % 3 == 0) {
            row[1] = i;
        } else if (i % 3 == 2) {
            row[1] = i + 0.5;
        }
        if (i % 2 == 0) {
            row[2] = "n" + std::to_string(i);
        }
        wb->put("k" + std::to_string(i), std::move(row));
    }
    wb->flush();
    EXPECT_EQ(store->stats().flushes, 1u);
    auto scalar = [&](const std::string& sql) { return store->query(sql).at(0).getInt(0); };
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m"), 30000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE typeof(v) = 'integer'"), 10000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE typeof(v) = 'real'"), 10000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE v IS NULL"), 10000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE note IS NULL"), 15000);
    auto row = store->query("SELECT v, CAST(v AS TEXT), note FROM m WHERE key = 'k29999'").at(0);
    EXPECT_EQ(row.getString(1), "29999.5");
    EXPECT_TRUE(row.isNull(2));
    row = store->query("SELECT v, note FROM m WHERE key = 'k3000'").at(0);
    EXPECT_EQ(row.getInt(0), 3000);
    EXPECT_EQ(row.getString(1), "n3000");
}

TEST_F(WriteBehindTest, SqliteFlushWritesRowsInKeyOrder) {
    SQLITE_ONLY("SQLite trigger syntax");
    // Key order keeps the statements walking the table's index in order (a warm page cache);
    // a trigger records the order in which the rows arrive.
    auto store = open();
    store->execute(kCreate);
    store->execute("CREATE TABLE arrivals (n INTEGER PRIMARY KEY, key TEXT)");
    store->execute(
        "CREATE TRIGGER hb_arrival AFTER INSERT ON hb BEGIN"
        " INSERT INTO arrivals (key) VALUES (NEW.key); END");
    auto wb = store->writeBehind("hb", kUpsert);
    std::vector<std::string> keys;
    for (int i = 0; i < 500; ++i) {
        keys.push_back("k" + std::to_string((i * 7919) % 500 + 1000));  // scrambled
    }
    for (const auto& key : keys) {
        wb->put(key, beat(key, 1));
    }
    wb->flush();
    std::vector<std::string> arrived;
    for (const auto& row : store->query("SELECT key FROM arrivals ORDER BY n")) {
        arrived.push_back(row.getString(0));
    }
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(arrived, keys);
}

TEST_F(WriteBehindTest, ARowFailingAfterOthersWroteKeepsTheWholeBatch) {
    // Rows go in key order: "a" and "b" are written by the batch's statement before "c"
    // breaks the CHECK. The batch is rolled back and kept, and the process lives: Poco 1.11's
    // PostgreSQL connector frees the previous row's result a second time when a later run of
    // the same statement fails (it aborted the process here before the fix).
    auto store = open();
    store->execute(
        "CREATE TABLE hb (key TEXT PRIMARY KEY, seq BIGINT CHECK (seq >= 0), at DOUBLE "
        "PRECISION)");
    auto wb = store->writeBehind("hb", kUpsert);
    wb->put("a", beat("a", 1));
    wb->put("b", beat("b", 2));
    wb->put("c", beat("c", -3));
    {
        switchboard::test::LogCapture capture("switchboard.store");
        EXPECT_THROW(wb->flush(), StoreError);
    }
    EXPECT_EQ(count(*store), 0);
    EXPECT_EQ(wb->pending(), 3u);
    wb->put("c", beat("c", 3));
    wb->flush();
    EXPECT_EQ(count(*store), 3);
    EXPECT_EQ(seqOf(*store, "c"), 3);
    // The same through StoreTx::executeEach, which binds rows the same way.
    EXPECT_THROW(store->transaction([](StoreTx& tx) {
        tx.executeEach(kUpsert, {beat("d", 4), beat("e", 5), beat("f", -6)});
    }),
                 StoreError);
    EXPECT_EQ(count(*store), 3);
}

TEST_F(WriteBehindTest, AFailingBatcherKeepsOnlyItsOwnRowsBackInARound) {
    // The flusher writes every batcher in one transaction, each in its own savepoint: the
    // batcher whose SQL fails keeps its rows for the next round, the others are written.
    auto store = open(std::chrono::milliseconds(50));
    store->execute(kCreate);
    auto good = store->writeBehind("good", kUpsert);
    auto bad =
        store->writeBehind("bad",
                           "INSERT INTO later (key, seq, at) VALUES ($1, $2, $3) "
                           "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, at = excluded.at");
    bad->put("x", beat("x", 1));
    good->put("a", beat("a", 1));
    ASSERT_TRUE(eventually([&] { return seqOf(*store, "a") == 1; }));
    ASSERT_TRUE(eventually([&] { return store->stats().flushErrors >= 2; }));
    // pending() leaves out rows a round has taken and not yet settled: between rounds the
    // failed row is back.
    EXPECT_TRUE(eventually([&] { return bad->pending() == 1u; }));
    good->put("a", beat("a", 2));  // later rounds go on writing the good one
    ASSERT_TRUE(eventually([&] { return seqOf(*store, "a") == 2; }));
    store->execute("CREATE TABLE later (key TEXT PRIMARY KEY, seq BIGINT, at DOUBLE PRECISION)");
    ASSERT_TRUE(
        eventually([&] { return !store->query("SELECT seq FROM later WHERE key = 'x'").empty(); }));
    EXPECT_EQ(store->query("SELECT seq FROM later WHERE key = 'x'").at(0).getInt(0), 1);
    EXPECT_TRUE(eventually([&] { return bad->pending() == 0; }));
}

TEST_F(WriteBehindTest, LargeBatchWithNullsOnEitherBackend) {
    // The portable part of the mixed batch above: typed columns, NULLs, 5,000 rows, one flush.
    auto store = open();
    store->execute("CREATE TABLE m (key TEXT PRIMARY KEY, v BIGINT, note TEXT)");
    auto wb = store->writeBehind("mixed",
                                 "INSERT INTO m (key, v, note) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (key) DO UPDATE SET v = excluded.v, "
                                 "note = excluded.note");
    for (std::int64_t i = 0; i < 5000; ++i) {
        SqlParams row{"k" + std::to_string(i), nullptr, nullptr};
        if (i % 2 == 0) {
            row[1] = i;
        }
        if (i % 5 == 0) {
            row[2] = "n" + std::to_string(i);
        }
        wb->put("k" + std::to_string(i), std::move(row));
    }
    wb->flush();
    EXPECT_EQ(store->stats().flushes, 1u);
    EXPECT_EQ(store->stats().flushedRows, 5000u);
    auto scalar = [&](const std::string& sql) { return store->query(sql).at(0).getInt(0); };
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m"), 5000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE v IS NULL"), 2500);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM m WHERE note IS NULL"), 4000);
    EXPECT_EQ(scalar("SELECT SUM(v) FROM m"), 2 * (2499 * 2500 / 2));
    auto row = store->query("SELECT v, note FROM m WHERE key = 'k4990'").at(0);
    EXPECT_EQ(row.getInt(0), 4990);
    EXPECT_EQ(row.getString(1), "n4990");
    EXPECT_TRUE(store->query("SELECT v FROM m WHERE key = 'k4999'").at(0).isNull(0));
}
