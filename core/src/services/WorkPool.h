// The host's work pool: a few threads for blocking work started where blocking is not allowed
// (event-loop callbacks: password hashing, store writes), with a bounded queue so a flood of
// work is refused at once instead of piling up, and per-owner accounting so a stopping plugin's
// tasks finish before its stop().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace switchboard {

class MetricsRegistry;

class WorkPool {
public:
    /// `threads` workers (at least 1), named `name` + their index ("sb-work-0"); at most
    /// `queueLimit` tasks wait (0: none may wait).
    WorkPool(std::size_t threads, std::size_t queueLimit, const std::string& name = "sb-work-");
    /// stop()
    ~WorkPool();
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    /// Queues `task` for a worker, on behalf of `owner` (a plugin's name). False, and the task
    /// is dropped and counted, when the queue is full or the pool is stopping. An exception
    /// from the task is logged on "switchboard.<owner>".
    bool submit(const std::string& owner, std::function<void()> task);
    /// Waits until no task of `owner` is queued or running. Must not be called from a task.
    void waitFor(const std::string& owner);
    /// Runs what is queued, then joins the workers. Idempotent.
    void stop();

    std::size_t queued() const;
    std::size_t running() const;
    /// Registers switchboard_work_queued, _running and switchboard_work_tasks_total{result}.
    /// The pool must outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;

private:
    struct Task {
        std::string owner;
        std::function<void()> fn;
    };
    void run();

    const std::size_t _queueLimit;
    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::condition_variable _done;
    std::deque<Task> _queue;
    std::map<std::string, std::size_t> _pendingByOwner;  ///< queued + running
    std::size_t _running = 0;
    bool _stopping = false;
    std::uint64_t _completed = 0;
    std::uint64_t _failed = 0;
    std::uint64_t _refused = 0;
    std::vector<std::thread> _threads;
};

}  // namespace switchboard
