// RouteHistory: per-interval counts from the cumulative route metrics, the p99 estimate and the
// window's bound.
#include "services/RouteHistory.h"

#include <gtest/gtest.h>

using namespace switchboard;

TEST(RouteHistoryTest, P99InterpolatesWithinItsBucket) {
    RouteMetrics::Buckets none{};
    EXPECT_EQ(RouteHistory::p99(none), -1);
    RouteMetrics::Buckets d{};
    d[0] = 100;  // all at most 0.5 ms: rank 99 of 100 in [0, 0.0005]
    EXPECT_DOUBLE_EQ(RouteHistory::p99(d), 0.0005 * 0.99);
    RouteMetrics::Buckets split{};
    split[0] = 98;  // <= 0.5 ms
    split[4] = 2;   // (5 ms, 10 ms]: rank 99 is half-way into this bucket
    EXPECT_DOUBLE_EQ(RouteHistory::p99(split), 0.005 + 0.005 * 0.5);
    RouteMetrics::Buckets slow{};
    slow[RouteMetrics::kBuckets.size()] = 10;  // beyond 2.5 s: only the lower bound is known
    EXPECT_DOUBLE_EQ(RouteHistory::p99(slow), 2.5);
}

TEST(RouteHistoryTest, SamplesAreDifferencesKeptForTheWindow) {
    MetricsRegistry metrics;
    auto route = metrics.route("public", "GET", "/x");
    RouteHistory history(metrics, std::chrono::milliseconds(2000), 3);
    route->observe(200, 300);
    route->observe(500, 300);
    history.sample(100);
    history.sample(102);
    route->observe(200, 7000);
    history.sample(104);
    EXPECT_EQ(history.json(),
              "{\"interval\":2.0,\"samples\":3,\"routes\":[{\"listener\":\"public\",\"method\":"
              "\"GET\",\"route\":\"/x\",\"points\":["
              "{\"time\":100.0,\"requests\":2,\"rate\":1.0,\"p99\":0.000495},"
              "{\"time\":102.0,\"requests\":0,\"rate\":0.0,\"p99\":null},"
              "{\"time\":104.0,\"requests\":1,\"rate\":0.5,\"p99\":0.00995}]}]}");
    history.sample(106);
    history.sample(108);
    history.sample(110);
    // Nothing in the window any more: the route is left out.
    EXPECT_EQ(history.json(), "{\"interval\":2.0,\"samples\":3,\"routes\":[]}");
}
