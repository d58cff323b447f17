// Text with NUL bytes: POCO's SQLite connector reads text back cut at the first NUL, so the
// store refuses such values (StoreError) instead of silently storing something else.
#include <gtest/gtest.h>

#include <string>

#include "TestSupport.h"
#include "store/DataStore.h"

namespace switchboard::test {
namespace {

TEST(DataStoreTextTest, TextWithNulIsRefused) {
    TempDir dir;
    auto store = DataStore::open(
        testBackend() == "postgresql" ? storeUrl(dir, "t") : "sqlite:" + dir.file("t.db"),
        dir.path(), std::chrono::seconds(1));
    store->execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    const std::string withNul("a\0b", 3);
    try {
        store->execute("INSERT INTO t (k, v) VALUES ($1, $2)", {std::string("k"), withNul});
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_STREQ(e.what(), "store: text values must not contain NUL bytes");
    }
    EXPECT_THROW(store->query("SELECT v FROM t WHERE k = $1", {withNul}), StoreError);
    auto batch = store->writeBehind("t", "UPDATE t SET v = $1 WHERE k = $2");
    EXPECT_THROW(batch->put("k", {withNul, std::string("k")}), StoreError);
    EXPECT_EQ(batch->pending(), 0u);
    EXPECT_TRUE(store->query("SELECT k FROM t").empty());

    // Text without NUL, including other control characters and UTF-8, round-trips exactly.
    const std::string text = "tab\tnew\nline \xc3\xa9\xe2\x82\xac";
    store->execute("INSERT INTO t (k, v) VALUES ($1, $2)", {std::string("k"), text});
    auto rows = store->query("SELECT v FROM t WHERE k = $1", {std::string("k")});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].getString(0), text);
    store->close();
}

}  // namespace
}  // namespace switchboard::test
