// Known bug in the core store (found by the pairing tests): TEXT values read back through
// DataStore::query() end at the first NUL byte on the SQLite backend, although they are written
// in full. Disabled until core/src/DataStore.cpp (toSqlValue) reads text with its length.
#include <gtest/gtest.h>

#include <string>

#include "DataStore.h"
#include "TestSupport.h"

namespace switchboard::test {
namespace {

TEST(DataStoreTextTest, DISABLED_TextWithNulReadsBackInFull) {
    TempDir dir;
    auto store = DataStore::open("sqlite:" + dir.file("t.db"), dir.path(), std::chrono::seconds(1));
    store->execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    const std::string key("a\0b", 3);
    store->execute("INSERT INTO t (k, v) VALUES ($1, $2)", {key, std::string("x\0y", 3)});

    // Written in full: the bound key matches, and SQLite counts 3 bytes.
    auto length = store->query("SELECT length(CAST(k AS BLOB)) FROM t WHERE k = $1", {key});
    ASSERT_EQ(length.size(), 1u);
    EXPECT_EQ(length[0].getInt(0), 3);

    // Read back: today "a" and "x" (1 byte each).
    auto rows = store->query("SELECT k, v FROM t");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].getString(0), key);
    EXPECT_EQ(rows[0].getString(1), std::string("x\0y", 3));
    store->close();
}

}  // namespace
}  // namespace switchboard::test
