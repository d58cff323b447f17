// Periodic tasks for plugins and the host on one timer thread (Poco::Util::Timer, monotonic
// clock). A task's exception is logged and the task keeps its schedule.
#pragma once

#include <Poco/Util/Timer.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace switchboard {

class TimerService {
public:
    ~TimerService();
    /// Runs `task` every `interval` (first run after one interval) until cancelled. `owner`
    /// names the task in logs and lets cancelOwner() stop all of one plugin's tasks.
    std::uint64_t every(const std::string& owner, std::chrono::milliseconds interval,
                        std::function<void()> task);
    void cancel(std::uint64_t id);
    /// Cancels all tasks of `owner` ("" = all) and waits for runs in progress.
    void cancelOwner(const std::string& owner);
    void stop();

private:
    Poco::Util::Timer _timer;
    std::mutex _mutex;
    std::uint64_t _nextId = 1;
    std::map<std::uint64_t, std::pair<std::string, Poco::Util::TimerTask::Ptr>> _tasks;
};

}  // namespace switchboard
