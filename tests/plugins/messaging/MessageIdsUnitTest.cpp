// MessageIds: ids unique across node slots, increasing on one node whatever the clock does.
#include "MessageIds.h"

#include <gtest/gtest.h>

#include <set>

namespace switchboard::messaging {
namespace {

constexpr std::int64_t kNow = 1764626400000;  // 2025-12-01T22:00:00Z

TEST(MessageIdsUnitTest, IdsOfTwoSlotsNeverCollideAndFollowTheClock) {
    MessageIds a(1, 0), b(2, 0);
    std::set<std::int64_t> all;
    std::int64_t lastA = 0, lastB = 0;
    for (std::int64_t ms = kNow; ms < kNow + 5; ++ms) {
        for (int i = 0; i < 300; ++i) {
            std::int64_t x = a.next(ms), y = b.next(ms);
            EXPECT_GT(x, lastA);
            EXPECT_GT(y, lastB);
            lastA = x;
            lastB = y;
            all.insert(x);
            all.insert(y);
        }
    }
    EXPECT_EQ(all.size(), 2u * 5 * 300);
    // A later millisecond on one node sorts after an earlier one on the other.
    EXPECT_GT(b.next(kNow + 10), a.next(kNow + 9));
    EXPECT_EQ(a.next(kNow + 20) >> 22, kNow + 20 - MessageIds::kEpochMs);
}

TEST(MessageIdsUnitTest, IncreasesWhenTheClockGoesBackOrAMillisecondOverflows) {
    MessageIds ids(7, 0);
    std::int64_t last = ids.next(kNow);
    for (int i = 0; i < 3000; ++i) {  // more than 1024 in one millisecond
        std::int64_t x = ids.next(kNow);
        ASSERT_GT(x, last) << i;
        last = x;
    }
    std::int64_t back = ids.next(kNow - 60000);  // the clock stepped back a minute
    EXPECT_GT(back, last);
    EXPECT_EQ((back >> 10) & (MessageIds::kSlots - 1), 7);
}

TEST(MessageIdsUnitTest, StartsAfterTheHighestStoredIdAndWrapsTheSlot) {
    MessageIds other(3, 0);
    std::int64_t stored = other.next(kNow + 1000);  // a node whose clock is ahead
    MessageIds ids(MessageIds::kSlots + 2, stored);
    EXPECT_EQ(ids.slot(), 2);
    EXPECT_GT(ids.next(kNow), stored);
    // Ids of the seed-era store (1, 2, 3, ...) all sort before new ones.
    EXPECT_GT(MessageIds(0, 42).next(kNow), 42);
}

}  // namespace
}  // namespace switchboard::messaging
