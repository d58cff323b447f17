// Unit tests of the failure rate limiter.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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

TEST(RateLimiterTest, TotalLimitShrinksEveryKeysAllowanceButLocksNobodyOut) {
    RateLimiter limiter(4, 5, std::chrono::seconds(60));  // under attack: 1 per key
    EXPECT_FALSE(limiter.underAttack());
    limiter.fail("a");
    limiter.fail("a");
    EXPECT_EQ(limiter.retryAfter("a"), 0);  // 2 of its 4
    for (int i = 0; i < 3; ++i) {
        limiter.fail("k" + std::to_string(i));
    }
    EXPECT_TRUE(limiter.underAttack());
    // Every key that has failed once is refused now; one that has not still gets its try.
    EXPECT_GT(limiter.retryAfter("a"), 0);
    EXPECT_GT(limiter.retryAfter("k0"), 0);
    EXPECT_EQ(limiter.retryAfter("someone-else"), 0);
    EXPECT_EQ(limiter.attempt("someone-else"), 0);
    EXPECT_GT(limiter.attempt("someone-else"), 0);
}

TEST(RateLimiterTest, UnderAttackAllowanceIsConfigurable) {
    RateLimiter limiter(0, 2, std::chrono::seconds(60), 3);
    limiter.fail("x");
    limiter.fail("y");
    EXPECT_TRUE(limiter.underAttack());
    EXPECT_EQ(limiter.retryAfter("x"), 0);  // 1 of 3
    limiter.fail("x");
    limiter.fail("x");
    EXPECT_GT(limiter.retryAfter("x"), 0);
    EXPECT_EQ(limiter.retryAfter("y"), 0);
}

TEST(RateLimiterTest, WindowExpires) {
    // A window long enough that a stalled machine does not end it between the two calls (the
    // first check is only meaningful while the window runs, and it always does on a normal run).
    const auto window = std::chrono::milliseconds(1000);
    RateLimiter limiter(1, 0, window);
    auto start = std::chrono::steady_clock::now();
    limiter.fail("a");
    std::int64_t during = limiter.retryAfter("a");
    if (std::chrono::steady_clock::now() - start < window / 2) {
        EXPECT_EQ(during, 1);
    }
    std::this_thread::sleep_until(start + window + std::chrono::milliseconds(100));
    EXPECT_EQ(limiter.retryAfter("a"), 0);
}

TEST(RateLimiterTest, ConcurrentAttemptsAreCountedBeforeTheExpensivePart) {
    RateLimiter limiter(10, 0, std::chrono::seconds(60));
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 60; ++i) {
        threads.emplace_back([&] {
            if (limiter.attempt("account:7") == 0) {
                ++admitted;  // what would go on to hash the password
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(admitted.load(), 10);
    EXPECT_GT(limiter.retryAfter("account:7"), 0);
    EXPECT_EQ(limiter.attempt("account:8"), 0);  // other keys are not affected
}

TEST(RateLimiterTest, ForgivenAttemptsDoNotCount) {
    RateLimiter limiter(2, 0, std::chrono::seconds(60));
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(limiter.attempt("k"), 0) << i;
        limiter.forgive("k");  // each one succeeded
    }
    EXPECT_EQ(limiter.attempt("k"), 0);
    EXPECT_EQ(limiter.attempt("k"), 0);
    EXPECT_GT(limiter.attempt("k"), 0);  // two failures: limited, and not counted again
    limiter.forgive("unknown");          // forgiving what was never counted changes nothing
    EXPECT_GT(limiter.retryAfter("k"), 0);
}

TEST(RateLimiterTest, AddressNetworkGroupsA24OrA64) {
    EXPECT_EQ(addressNetwork("192.0.2.77"), "192.0.2.0/24");
    EXPECT_EQ(addressNetwork("::ffff:192.0.2.77"), "192.0.2.0/24");
    EXPECT_EQ(addressNetwork("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(addressNetwork("::1"), "::/64");
    EXPECT_EQ(addressNetwork("not an address"), "not an address");
}
