// DataStore against real SQLite files, and (as ctest's pg.StoreTest.*, SB_TEST_STORE=postgresql)
// against a real PostgreSQL cluster: URLs, migrations, value round trips, transactions,
// concurrency through the waiting pool, durability across close/reopen and kill -9.
#include "TestSupport.h"
#include "store/DataStore.h"
#include "store/PostgresBackend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Poco/File.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>

using namespace switchboard;
using switchboard::test::TempDir;
using testing::HasSubstr;
using testing::StartsWith;

namespace {

constexpr std::chrono::milliseconds kNoAutoFlush{std::chrono::hours(1)};

std::int64_t scalar(Store& store, const std::string& sql, const SqlParams& params = {}) {
    auto rows = store.query(sql, params);
    EXPECT_EQ(rows.size(), 1u) << sql;
    return rows.empty() ? -1 : rows.front().getInt(0);
}

std::string errorOf(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const StoreError& e) {
        return e.what();
    }
    return "<no StoreError>";
}

const std::vector<Migration> kDemo = {
    {2, {"INSERT INTO notes (id, body) VALUES (1, 'seeded')"}},
    {1, {"CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT)"}},
};

bool onPostgres() {
    return switchboard::test::testBackend() == "postgresql";
}

class StoreTest : public testing::Test {
protected:
    std::unique_ptr<DataStore> open() { return DataStore::open(_url, _dir.path(), kNoAutoFlush); }
    TempDir _dir;
    /// The same database for every open() of one test.
    const std::string _url =
        onPostgres() ? switchboard::test::storeUrl(_dir, "store") : "sqlite:db/store.db";
};

// StoreTest.Sqlite* runs on SQLite only and StoreTest.Postgres* as pg.StoreTest.* only
// (tests/CMakeLists.txt filters them); these guard against running one on the wrong backend.
#define SQLITE_ONLY() ASSERT_FALSE(onPostgres()) << "Sqlite* tests are not registered as pg.*"
#define POSTGRES_ONLY() ASSERT_TRUE(onPostgres()) << "Postgres* tests run as pg.StoreTest.* only"

}  // namespace

TEST_F(StoreTest, SqliteOpensRelativePathInWalModeWithForeignKeys) {
    SQLITE_ONLY();
    auto store = open();
    EXPECT_EQ(store->backend(), "sqlite");
    EXPECT_TRUE(Poco::File(_dir.file("db/store.db")).exists());
    EXPECT_EQ(store->query("PRAGMA journal_mode").at(0).getString(0), "wal");
    EXPECT_EQ(scalar(*store, "PRAGMA foreign_keys"), 1);
    EXPECT_EQ(scalar(*store, "PRAGMA synchronous"), 1);  // NORMAL
    EXPECT_EQ(store->poolSize(), 8u);
}

TEST_F(StoreTest, RejectsUnsupportedUrlsWithClearMessages) {
    EXPECT_EQ(errorOf([&] { DataStore::open("mysql://db/x", _dir.path(), kNoAutoFlush); }),
              "store.url: unsupported scheme in 'mysql://db/x' "
              "(expected sqlite:<path> or postgresql://...)");
    EXPECT_EQ(errorOf([&] { DataStore::open("sqlite:", _dir.path(), kNoAutoFlush); }),
              "store.url: 'sqlite:' needs a path, e.g. sqlite:var/switchboard.db");
}

TEST_F(StoreTest, SqliteOpenFailuresNameThePathAndReason) {
    SQLITE_ONLY();
    _dir.write("blocker", "a file, not a directory");
    std::string error =
        errorOf([&] { DataStore::open("sqlite:blocker/sub/x.db", _dir.path(), kNoAutoFlush); });
    EXPECT_THAT(error,
                StartsWith("store: cannot create directory '" + _dir.file("blocker/sub") +
                           "' for the sqlite database '" + _dir.file("blocker/sub/x.db") + "': "));
    EXPECT_THAT(error, HasSubstr("not a directory"));

    Poco::File(_dir.file("adir")).createDirectories();
    error = errorOf([&] { DataStore::open("sqlite:adir", _dir.path(), kNoAutoFlush); });
    EXPECT_THAT(error, StartsWith("store: cannot open " + _dir.file("adir") + ": "));
    EXPECT_THAT(error, HasSubstr("unable to open database file"));
}

TEST_F(StoreTest, MigrationsApplyInOrderOnceAndRecordTheVersion) {
    auto store = open();
    EXPECT_EQ(store->schemaVersion("demo"), 0);
    store->migrate("demo", kDemo);
    EXPECT_EQ(store->schemaVersion("demo"), 2);
    store->migrate("demo", kDemo);  // nothing newer: the seed insert must not run again
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM notes"), 1);

    auto more = kDemo;
    more.push_back({3, {"ALTER TABLE notes ADD COLUMN tag TEXT"}});
    store->migrate("demo", more);
    EXPECT_EQ(store->schemaVersion("demo"), 3);
    EXPECT_EQ(store->schemaVersion("other"), 0);
    EXPECT_EQ(scalar(*store, "SELECT version FROM schema_migrations WHERE owner = $1", {"demo"}),
              3);
}

TEST_F(StoreTest, ReopeningDoesNotRerunMigrations) {
    open()->migrate("demo", kDemo);
    auto store = open();
    store->migrate("demo", kDemo);
    EXPECT_EQ(store->schemaVersion("demo"), 2);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM notes"), 1);
}

TEST_F(StoreTest, FailingMigrationThrowsAndRollsBackThatStep) {
    auto store = open();
    store->migrate("demo", kDemo);
    std::vector<Migration> broken = kDemo;
    broken.push_back({3, {"CREATE TABLE partial (x BIGINT)", "INSERT INTO missing VALUES (1)"}});
    broken.push_back({4, {"CREATE TABLE later (x BIGINT)"}});
    if (onPostgres()) {
        EXPECT_THAT(errorOf([&] { store->migrate("demo", broken); }),
                    testing::AllOf(StartsWith("migration demo v3 failed: "),
                                   HasSubstr("relation \"missing\" does not exist")));
    } else {
        EXPECT_EQ(errorOf([&] { store->migrate("demo", broken); }),
                  "migration demo v3 failed: Invalid SQL statement: no such table: missing: "
                  "no such table: missing");
    }
    EXPECT_EQ(store->schemaVersion("demo"), 2);
    EXPECT_EQ(scalar(*store, onPostgres() ? "SELECT COUNT(*) FROM information_schema.tables "
                                            "WHERE table_schema = current_schema() AND "
                                            "table_name IN ('partial', 'later')"
                                          : "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
                                            "('partial', 'later')"),
              0);
    EXPECT_EQ(errorOf([&] {
                  store->migrate("x", {{1, {}}, {1, {}}});
              }),
              "migration x v1 failed: versions must be unique and start at 1");
}

TEST_F(StoreTest, RoundTripsIntegersDoublesTextAndNull) {
    auto store = open();
    // SQLite's INTEGER holds 64 bits; PostgreSQL's is 32 (portable SQL says BIGINT).
    store->execute(std::string("CREATE TABLE v (i BIGINT, j ") +
                   (onPostgres() ? "BIGINT" : "INTEGER") +
                   ", d DOUBLE PRECISION, s TEXT, n BIGINT)");
    const std::string text = "it's \"quoted\"; -- ünïcødé ✓ 🚀";
    const std::int64_t big = 5'000'000'000;  // > 2^32
    EXPECT_EQ(store->execute("INSERT INTO v VALUES ($1, $2, $3, $4, $5)",
                             {big, std::int64_t{-big}, 3.25, text, nullptr}),
              1);
    auto rows = store->query("SELECT i, j, d, s, n FROM v");
    ASSERT_EQ(rows.size(), 1u);
    const SqlRow& row = rows[0];
    ASSERT_EQ(row.size(), 5u);
    EXPECT_EQ(std::get<std::int64_t>(row.at(0)), big);
    EXPECT_EQ(std::get<std::int64_t>(row.at(1)), -big);
    EXPECT_EQ(std::get<double>(row.at(2)), 3.25);
    EXPECT_EQ(std::get<std::string>(row.at(3)), text);
    EXPECT_TRUE(row.isNull(4));
    EXPECT_EQ(row.getInt(4), 0);
    // The NULL really is SQL NULL, not 0 or ''.
    if (!onPostgres()) {
        EXPECT_EQ(store->query("SELECT typeof(n) FROM v").at(0).getString(0), "null");
    }
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM v WHERE n IS NULL"), 1);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM v WHERE s = $1 AND i = $2", {text, big}), 1);
}

TEST_F(StoreTest, ReusedPlaceholderBindsOnce) {
    auto store = open();
    store->execute("CREATE TABLE p (a BIGINT, b BIGINT, c TEXT)");
    store->execute("INSERT INTO p (a, b, c) VALUES ($1, $1, $2)", {std::int64_t{7}, "x"});
    auto rows = store->query("SELECT a, b, c FROM p WHERE a = $1 AND b = $1", {std::int64_t{7}});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].getInt(0), 7);
    EXPECT_EQ(rows[0].getInt(1), 7);
    EXPECT_EQ(rows[0].getString(2), "x");
}

TEST_F(StoreTest, ExecuteReportsAffectedRowsAndWrapsErrors) {
    auto store = open();
    store->execute("CREATE TABLE a (id BIGINT PRIMARY KEY, n BIGINT)");
    for (std::int64_t i = 1; i <= 3; ++i) {
        store->execute("INSERT INTO a (id, n) VALUES ($1, 0)", {i});
    }
    EXPECT_EQ(store->execute("UPDATE a SET n = n + 1 WHERE id >= $1", {std::int64_t{2}}), 2);
    EXPECT_THAT(errorOf([&] { store->execute("INSERT INTO a (id, n) VALUES (1, 0)"); }),
                HasSubstr(onPostgres() ? "duplicate key value violates unique constraint"
                                       : "UNIQUE constraint failed: a.id"));
    EXPECT_THAT(errorOf([&] { store->query("SELEC 1"); }), HasSubstr("syntax error"));
    auto rows = store->query("INSERT INTO a (id, n) VALUES (9, 4) RETURNING id, n");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].getInt(0), 9);
}

TEST_F(StoreTest, ExecuteEachRunsTheStatementPerRowInOrder) {
    auto store = open();
    store->execute("CREATE TABLE e (id BIGINT PRIMARY KEY, n BIGINT, body TEXT)");
    store->transaction([&](StoreTx& tx) {
        // Rows of three signatures (NULL, integer and text in the middle columns), in runs:
        // each run is one statement, and they still go in the order given.
        tx.executeEach("INSERT INTO e (id, n, body) VALUES ($1, $2, $3)",
                       {{std::int64_t{1}, std::int64_t{10}, "one"},
                        {std::int64_t{2}, std::int64_t{20}, "two"},
                        {std::int64_t{3}, nullptr, "three"},
                        {std::int64_t{4}, std::int64_t{40}, nullptr},
                        {std::int64_t{5}, std::int64_t{50}, "five"}});
        tx.executeEach("UPDATE e SET n = n + $1 WHERE id <= $2",
                       {{std::int64_t{1}, std::int64_t{2}}, {std::int64_t{100}, std::int64_t{5}}});
        tx.executeEach("DELETE FROM e WHERE id = $1", {});  // no rows: nothing runs
    });
    auto rows = store->query("SELECT id, n, body FROM e ORDER BY id");
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].getInt(1), 111);
    EXPECT_EQ(rows[0].getString(2), "one");
    EXPECT_EQ(rows[1].getInt(1), 121);
    EXPECT_TRUE(rows[2].isNull(1));
    EXPECT_EQ(rows[2].getString(2), "three");
    EXPECT_EQ(rows[3].getInt(1), 140);
    EXPECT_TRUE(rows[3].isNull(2));
    EXPECT_EQ(rows[4].getString(2), "five");
    // A failing row rolls back the whole transaction; a NUL in text is refused before any runs.
    EXPECT_THAT(errorOf([&] {
                    store->transaction([](StoreTx& tx) {
                        tx.executeEach("INSERT INTO e (id, n, body) VALUES ($1, $2, $3)",
                                       {{std::int64_t{6}, std::int64_t{60}, "six"},
                                        {std::int64_t{1}, std::int64_t{0}, "again"}});
                    });
                }),
                HasSubstr(onPostgres() ? "duplicate key value violates unique constraint"
                                       : "UNIQUE constraint failed: e.id"));
    EXPECT_THAT(errorOf([&] {
                    store->transaction([](StoreTx& tx) {
                        tx.executeEach(
                            "INSERT INTO e (id, n, body) VALUES ($1, $2, $3)",
                            {{std::int64_t{7}, std::int64_t{70}, "seven"},
                             {std::int64_t{8}, std::int64_t{80}, std::string("a\0b", 3)}});
                    });
                }),
                HasSubstr("NUL"));
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM e"), 5);
}

TEST_F(StoreTest, TransactionCommitsOrRollsBackOnThrow) {
    auto store = open();
    store->execute("CREATE TABLE t (id BIGINT PRIMARY KEY)");
    store->transaction([](StoreTx& tx) {
        tx.execute("INSERT INTO t (id) VALUES ($1)", {std::int64_t{1}});
        tx.execute("INSERT INTO t (id) VALUES ($1)", {std::int64_t{2}});
        EXPECT_EQ(tx.query("SELECT COUNT(*) FROM t").at(0).getInt(0), 2);
    });
    EXPECT_THROW(store->transaction([](StoreTx& tx) {
        tx.execute("INSERT INTO t (id) VALUES (3)");
        throw std::logic_error("caller gives up");
    }),
                 std::logic_error);
    EXPECT_THROW(store->transaction([](StoreTx& tx) {
        tx.execute("INSERT INTO t (id) VALUES (4)");
        tx.execute("INSERT INTO t (id) VALUES (1)");  // duplicate key
    }),
                 StoreError);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM t"), 2);
    EXPECT_EQ(scalar(*store, "SELECT MAX(id) FROM t"), 2);
}

TEST_F(StoreTest, WritingThroughTheStoreInsideATransactionIsAnError) {
    auto store = open();
    store->execute("CREATE TABLE t (id BIGINT)");
    EXPECT_EQ(errorOf([&] {
                  store->transaction([&](StoreTx& tx) {
                      tx.execute("INSERT INTO t (id) VALUES (1)");
                      store->execute("INSERT INTO t (id) VALUES (2)");
                  });
              }),
              "store: write from inside transaction(); use its StoreTx instead");
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM t"), 0);
}

TEST_F(StoreTest, ConcurrentWritersAndReadersAllSucceed) {
    auto store = open();
    store->execute("CREATE TABLE w (writer BIGINT, n BIGINT, PRIMARY KEY (writer, n))");
    std::atomic<int> failures{0};
    std::atomic<int> writersLeft{8};
    std::vector<std::thread> threads;
    for (std::int64_t w = 0; w < 8; ++w) {
        threads.emplace_back([&, w] {
            for (std::int64_t n = 0; n < 200; ++n) {
                try {
                    store->execute("INSERT INTO w (writer, n) VALUES ($1, $2)", {w, n});
                } catch (const StoreError& e) {
                    ADD_FAILURE() << e.what();
                    ++failures;
                }
            }
            --writersLeft;
        });
        threads.emplace_back([&] {
            while (writersLeft > 0) {
                try {
                    std::int64_t seen = scalar(*store, "SELECT COUNT(*) FROM w");
                    EXPECT_LE(seen, 1600);
                } catch (const StoreError& e) {
                    ADD_FAILURE() << e.what();
                    ++failures;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM w"), 1600);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(DISTINCT writer) FROM w WHERE n = 199"), 8);
}

TEST_F(StoreTest, MoreReadersThanPoolSessionsWaitInsteadOfFailing) {
    auto store = open();
    const std::size_t readers = store->poolSize() * 3;
    // A plain SELECT that keeps its session busy for a while.
    const std::string slow =
        "SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c WHERE x < 100000) SELECT COUNT(*) FROM c)";
    std::atomic<bool> go{false};
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < readers; ++i) {
        threads.emplace_back([&] {
            while (!go) {
                std::this_thread::yield();
            }
            try {
                if (scalar(*store, slow) == 100000) {
                    ++ok;
                }
            } catch (const StoreError& e) {
                ADD_FAILURE() << e.what();
            }
        });
    }
    go = true;
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok, static_cast<int>(readers));
}

TEST_F(StoreTest, DataSurvivesCloseAndReopen) {
    auto store = open();
    store->execute("CREATE TABLE k (name TEXT, value DOUBLE PRECISION)");
    store->execute("INSERT INTO k VALUES ($1, $2)", {"pi", 3.14159});
    store->close();
    store->close();  // idempotent
    EXPECT_EQ(errorOf([&] { store->query("SELECT 1"); }), "store: the store is closed");
    EXPECT_EQ(errorOf([&] { store->writeBehind("x", "SELECT 1"); }),
              "write-behind 'x': the store is closed");
    auto reopened = open();
    auto rows = reopened->query("SELECT name, value FROM k");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].getString(0), "pi");
    EXPECT_DOUBLE_EQ(rows[0].getDouble(1), 3.14159);
}

// Runs only as the child of the test below (a fresh process, so no fork of a threaded one):
// writes one row through execute() and dies by SIGKILL without close() or destructors.
TEST(StoreChild, DISABLED_WriteThenGetKilled) {
    const char* dir = std::getenv("SB_STORE_CHILD_DIR");
    ASSERT_NE(dir, nullptr);
    const char* url = std::getenv("SB_STORE_CHILD_URL");
    ASSERT_NE(url, nullptr);
    auto store = DataStore::open(url, dir, kNoAutoFlush);
    store->execute("INSERT INTO d (id) VALUES (42)");
    kill(getpid(), SIGKILL);
}

TEST_F(StoreTest, ExecuteIsDurableWhenItReturnsEvenIfTheProcessIsKilled) {
    open()->execute("CREATE TABLE d (id BIGINT)");
    const std::string self = "/proc/self/exe";  // this test binary
    std::string env = "SB_STORE_CHILD_DIR=" + _dir.path();
    std::string urlEnv = "SB_STORE_CHILD_URL=" + _url;
    const char* argv[] = {self.c_str(), "--gtest_also_run_disabled_tests",
                          "--gtest_filter=StoreChild.DISABLED_WriteThenGetKilled", nullptr};
    const char* envp[] = {env.c_str(), urlEnv.c_str(), nullptr};
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        execve(self.c_str(), const_cast<char**>(argv), const_cast<char**>(envp));
        _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_EQ(scalar(*open(), "SELECT id FROM d"), 42);
}

TEST_F(StoreTest, PostgresUsesItsSchemaAndHasNoProcessWideWriteLock) {
    POSTGRES_ONLY();
    auto store = open();
    EXPECT_EQ(store->backend(), "postgresql");
    EXPECT_EQ(store->poolSize(), 8u);
    store->execute("CREATE TABLE s (id BIGINT)");
    EXPECT_EQ(scalar(*store,
                     "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 's' AND "
                     "table_schema = current_schema()"),
              1);
    // Two writers at once: one holds a row lock inside transaction(), the other's plain insert
    // into another row must not wait for it (SQLite's backend would serialise them).
    store->execute("INSERT INTO s (id) VALUES (1)");
    std::atomic<bool> inside{false};
    std::atomic<bool> release{false};
    std::thread holder([&] {
        store->transaction([&](StoreTx& tx) {
            tx.execute("UPDATE s SET id = 1 WHERE id = 1");
            inside = true;
            while (!release) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    });
    while (!inside) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto started = std::chrono::steady_clock::now();
    store->execute("INSERT INTO s (id) VALUES (2)");
    auto took = std::chrono::steady_clock::now() - started;
    release = true;
    holder.join();
    EXPECT_LT(took, std::chrono::seconds(2));
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM s"), 2);
}

TEST_F(StoreTest, PostgresOpenFailureNamesTheServerNotThePassword) {
    POSTGRES_ONLY();
    // A port nothing listens on.
    int port = switchboard::test::freePort();
    std::string error = errorOf([&] {
        DataStore::open("postgresql://u:s3cret@127.0.0.1:" + std::to_string(port) + "/db",
                        _dir.path(), kNoAutoFlush);
    });
    EXPECT_THAT(error, StartsWith("store: cannot open postgresql://u@127.0.0.1:" +
                                  std::to_string(port) + "/db: "));
    EXPECT_THAT(error, testing::Not(HasSubstr("s3cret")));
}

TEST(PostgresUrlTest, ParsesTheUrlIntoLibpqKeywords) {
    PostgresBackend full(
        "postgresql://sb:p%40ss@db.example:6543/switch%62oard?schema=node_a&"
        "pool_size=16&connect_timeout=3&sslmode=require");
    EXPECT_EQ(full.connectionString(),
              "host=db.example port=6543 dbname=switchboard user=sb password=p@ss sslmode=require "
              "connect_timeout=3");
    EXPECT_EQ(full.location(), "postgresql://sb@db.example:6543/switchboard?schema=node_a");
    EXPECT_EQ(full.poolSize(), 16u);
    EXPECT_EQ(full.openTimeout(), 3u);
    EXPECT_EQ(full.schema(), "node_a");
    EXPECT_FALSE(full.singleWriter());
    PostgresBackend minimal("postgres://[::1]/sb");
    EXPECT_EQ(minimal.connectionString(), "host=::1 port=5432 dbname=sb connect_timeout=5");
    EXPECT_EQ(minimal.location(), "postgresql://[::1]:5432/sb");
    EXPECT_EQ(minimal.poolSize(), 8u);
}

TEST(PostgresUrlTest, RejectsBadUrlsNamingThePart) {
    auto error = [](const std::string& url) {
        return errorOf([&] { DataStore::open(url, "/tmp", kNoAutoFlush); });
    };
    EXPECT_EQ(error("postgresql://u@h"),
              "store.url: postgresql URL names no database "
              "(expected postgresql://user:password@host:port/database)");
    EXPECT_EQ(error("postgresql://u@:5432/db"),
              "store.url: postgresql URL names no host "
              "(expected postgresql://user:password@host:port/database)");
    EXPECT_EQ(error("postgresql://h:99999/db"),
              "store.url: the port must be a number from 1 to 65535, got '99999'");
    EXPECT_EQ(error("postgresql://u:a%20b@h/db"),
              "store.url: the password may not contain spaces, quotes, '=' or backslashes");
    EXPECT_EQ(error("postgresql://h/db?schema=a;drop"),
              "store.url: schema must be letters, digits and _, got 'a;drop'");
    EXPECT_EQ(error("postgresql://h/db?pool_size=0"),
              "store.url: pool_size must be a number from 1 to 256, got '0'");
    EXPECT_EQ(error("postgresql://h/db?sslmode=maybe"),
              "store.url: sslmode 'maybe' is not one of disable, allow, prefer, require, "
              "verify-ca, verify-full");
    EXPECT_EQ(error("postgresql://h/db?user=x"),
              "store.url: unknown parameter 'user' (known: schema, pool_size, connect_timeout, "
              "sslmode)");
}

TEST(SqlRowTest, ConvertsWhereItMakesSense) {
    SqlRow row({nullptr, std::int64_t{42}, 1.5, std::string("17"), std::string("2.5"),
                std::string("abc")});
    EXPECT_TRUE(row.isNull(0));
    EXPECT_EQ(row.getInt(0), 0);
    EXPECT_EQ(row.getDouble(0), 0.0);
    EXPECT_EQ(row.getString(0), "");
    EXPECT_EQ(row.getDouble(1), 42.0);
    EXPECT_EQ(row.getString(1), "42");
    EXPECT_EQ(row.getInt(2), 1);
    EXPECT_EQ(row.getString(2), "1.5");
    EXPECT_EQ(row.getInt(3), 17);
    EXPECT_EQ(row.getDouble(4), 2.5);
    EXPECT_EQ(row.getInt(4), 2);
    EXPECT_EQ(errorOf([&] { row.getInt(5); }), "column 5: 'abc' is not a number");
    EXPECT_EQ(errorOf([&] { row.getString(6); }), "column 6 out of range (row has 6 columns)");
}

TEST_F(StoreTest, SqliteCheckpointsTheWalInTheBackgroundWithoutAWriterDoingIt) {
    SQLITE_ONLY();
    auto store = open();
    store->execute("CREATE TABLE pages (id BIGINT PRIMARY KEY, body TEXT)");
    // Let the maintenance thread copy what the WAL holds so far into the database file.
    auto dbSize = [&] { return Poco::File(_dir.file("db/store.db")).getSize(); };
    auto settled = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (dbSize() < 8192 && std::chrono::steady_clock::now() < settled) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto before = dbSize();
    // About 100 pages: far below the 8,000 at which a committing writer checkpoints itself, so
    // only the maintenance thread can move them into the database file.
    store->transaction([](StoreTx& tx) {
        for (int i = 0; i < 100; ++i) {
            tx.execute("INSERT INTO pages (id, body) VALUES ($1, $2)",
                       {std::int64_t{i}, std::string(3000, 'x')});
        }
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (dbSize() < before + 100 * 3000 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(dbSize(), before + 100 * 3000);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM pages"), 100);
}

TEST_F(StoreTest, SqliteWalStaysBoundedUnderWritesThatNeverPause) {
    SQLITE_ONLY();
    // No commit checkpoints (wal_autocheckpoint=0) and a passive checkpoint never catches up
    // with a writer that does not pause, so only the maintenance thread's RESTART past 8,192
    // pages (32 MiB) lets the WAL start over. About 75 MiB of WAL written over 4 s (a batch
    // every 10 ms, so the thread gets its turns): without the RESTART the file reaches all of
    // it; with it, 32 MiB plus what is written between two rounds (about 5 MiB).
    auto store = open();
    store->execute("CREATE TABLE pages (id BIGINT PRIMARY KEY, body TEXT)");
    const std::string wal = _dir.file("db/store.db-wal");
    Poco::File::FileSize largest = 0;
    const std::string body(3000, 'x');
    for (int batch = 0; batch < 400; ++batch) {
        store->transaction([&](StoreTx& tx) {
            for (int i = 0; i < 40; ++i) {
                tx.execute("INSERT INTO pages (id, body) VALUES ($1, $2)",
                           {std::int64_t{batch * 40 + i}, body});
            }
        });
        largest = std::max(largest, Poco::File(wal).getSize());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_LT(largest, Poco::File::FileSize{56} << 20);
    EXPECT_EQ(scalar(*store, "SELECT COUNT(*) FROM pages"), 16000);
}
