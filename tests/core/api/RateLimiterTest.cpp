// Unit tests of the failure rate limiter.
#include <gtest/gtest.h>

#include <thread>

#include "switchboard/RateLimiter.h"

using namespace switchboard;

TEST(RateLimiterTest, BlocksAKeyAfterItsLimit) {
    RateLimiter limiter(3, 0, std::chrono::seconds(60));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(limiter.retryAfter("1.2.3.4"), 0);
        limiter.fail("1.2.3.4");
    }
    std::int64_t wait = limiter.retryAfter("1.2.3.4");
    EXPECT_GE(wait, 59);
    EXPECT_LE(wait, 60);
    EXPECT_EQ(limiter.retryAfter("5.6.7.8"), 0);
}

TEST(RateLimiterTest, TotalLimitBlocksEveryone) {
    RateLimiter limiter(0, 5, std::chrono::seconds(60));
    for (int i = 0; i < 5; ++i) {
        limiter.fail("k" + std::to_string(i));
    }
    EXPECT_GT(limiter.retryAfter("someone-else"), 0);
}

TEST(RateLimiterTest, WindowExpires) {
    RateLimiter limiter(1, 0, std::chrono::milliseconds(100));
    limiter.fail("a");
    EXPECT_EQ(limiter.retryAfter("a"), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(limiter.retryAfter("a"), 0);
}
