// The work pool on its own: tasks run on its threads, the queue bound refuses at once, a
// failing task is contained, waitFor() waits for one owner's tasks only, stop() drains.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "TestSupport.h"
#include "services/MetricsRegistry.h"
#include "services/WorkPool.h"

using namespace switchboard;

namespace {

/// A gate tasks wait at until the test opens it.
class Gate {
public:
    void wait() {
        std::unique_lock<std::mutex> lock(_mutex);
        ++_waiting;
        _changed.notify_all();
        _changed.wait(lock, [this] { return _open; });
    }
    void open() {
        std::lock_guard<std::mutex> lock(_mutex);
        _open = true;
        _changed.notify_all();
    }
    void waitForWaiters(int n) {
        std::unique_lock<std::mutex> lock(_mutex);
        _changed.wait(lock, [&] { return _waiting >= n; });
    }

private:
    std::mutex _mutex;
    std::condition_variable _changed;
    int _waiting = 0;
    bool _open = false;
};

}  // namespace

TEST(WorkPoolTest, RunsTasksOnItsOwnThreads) {
    WorkPool pool(2, 100);
    std::atomic<int> ran{0};
    std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> elsewhere{true};
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(pool.submit("p", [&] {
            elsewhere = elsewhere && std::this_thread::get_id() != caller;
            ++ran;
        }));
    }
    pool.waitFor("p");
    EXPECT_EQ(ran.load(), 50);
    EXPECT_TRUE(elsewhere.load());
}

TEST(WorkPoolTest, AFullQueueRefusesAtOnce) {
    WorkPool pool(1, 2);
    Gate gate;
    ASSERT_TRUE(pool.submit("p", [&] { gate.wait(); }));
    gate.waitForWaiters(1);                 // the worker is busy
    EXPECT_TRUE(pool.submit("p", [] {}));   // waits
    EXPECT_TRUE(pool.submit("p", [] {}));   // waits
    EXPECT_FALSE(pool.submit("p", [] {}));  // over the bound: refused, not queued
    EXPECT_EQ(pool.queued(), 2u);
    EXPECT_EQ(pool.running(), 1u);
    gate.open();
    pool.waitFor("p");
    MetricsRegistry metrics;
    pool.registerMetrics(metrics);
    std::string text = metrics.render();
    EXPECT_NE(text.find("switchboard_work_tasks_total{result=\"refused\"} 1\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("switchboard_work_tasks_total{result=\"completed\"} 3\n"),
              std::string::npos)
        << text;
}

TEST(WorkPoolTest, AThrowingTaskIsLoggedAsItsOwnersAndTheWorkerGoesOn) {
    test::LogCapture capture("switchboard.workplugin");
    WorkPool pool(1, 10);
    ASSERT_TRUE(pool.submit("workplugin", [] { throw std::runtime_error("hash failed"); }));
    std::atomic<bool> after{false};
    ASSERT_TRUE(pool.submit("workplugin", [&] { after = true; }));
    pool.waitFor("workplugin");
    EXPECT_TRUE(after.load());
    ASSERT_EQ(capture.messages().size(), 1u);
    EXPECT_EQ(capture.messages()[0], "work task failed: hash failed");
}

TEST(WorkPoolTest, WaitForWaitsForThatOwnersTasksOnly) {
    WorkPool pool(2, 10);
    Gate other;
    std::atomic<bool> mineDone{false};
    ASSERT_TRUE(pool.submit("other", [&] { other.wait(); }));
    other.waitForWaiters(1);
    ASSERT_TRUE(pool.submit("mine", [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        mineDone = true;
    }));
    pool.waitFor("mine");  // returns although "other" still runs
    EXPECT_TRUE(mineDone.load());
    EXPECT_EQ(pool.running(), 1u);
    other.open();
    pool.waitFor("other");
    pool.waitFor("nobody");  // nothing of it: returns at once
}

TEST(WorkPoolTest, StopRunsWhatIsQueuedThenRefuses) {
    std::atomic<int> ran{0};
    WorkPool pool(1, 100);
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(pool.submit("p", [&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            ++ran;
        }));
    }
    pool.stop();
    EXPECT_EQ(ran.load(), 20);
    EXPECT_FALSE(pool.submit("p", [&] { ++ran; }));
    pool.stop();  // idempotent
}
