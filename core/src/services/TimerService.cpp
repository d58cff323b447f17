// Timer service (see TimerService.h).
#include "services/TimerService.h"

#include <Poco/Logger.h>

#include <mutex>
#include <vector>

namespace switchboard {

namespace {

class FunctionTask : public Poco::Util::TimerTask {
public:
    FunctionTask(std::string owner, std::function<void()> fn)
        : _owner(std::move(owner)), _fn(std::move(fn)) {}
    void run() override {
        std::lock_guard<std::mutex> lock(_runMutex);
        if (_stopped) {
            return;
        }
        try {
            _fn();
        } catch (const std::exception& e) {
            Poco::Logger::get("switchboard." + _owner)
                .error("timer task failed: %s", std::string(e.what()));
        } catch (...) {
            Poco::Logger::get("switchboard." + _owner).error("timer task failed");
        }
    }

    /// Cancels and waits for a run in progress, so the task's captures may be destroyed.
    void stopAndWait() {
        cancel();
        std::lock_guard<std::mutex> lock(_runMutex);
        _stopped = true;
    }

private:
    std::string _owner;
    std::function<void()> _fn;
    std::mutex _runMutex;
    bool _stopped = false;
};

void stopTask(const Poco::Util::TimerTask::Ptr& task) {
    const_cast<FunctionTask*>(static_cast<const FunctionTask*>(task.get()))->stopAndWait();
}

}  // namespace

TimerService::~TimerService() {
    stop();
}

std::uint64_t TimerService::every(const std::string& owner, std::chrono::milliseconds interval,
                                  std::function<void()> task) {
    Poco::Util::TimerTask::Ptr t = new FunctionTask(owner, std::move(task));
    long ms = static_cast<long>(std::max<std::int64_t>(interval.count(), 1));
    std::lock_guard<std::mutex> lock(_mutex);
    std::uint64_t id = _nextId++;
    _tasks[id] = {owner, t};
    _timer.schedule(t, ms, ms);
    return id;
}

void TimerService::cancel(std::uint64_t id) {
    Poco::Util::TimerTask::Ptr task;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        auto it = _tasks.find(id);
        if (it == _tasks.end()) {
            return;
        }
        task = it->second.second;
        _tasks.erase(it);
    }
    stopTask(task);  // outside the lock: the running task may itself use the service
}

void TimerService::cancelOwner(const std::string& owner) {
    std::vector<Poco::Util::TimerTask::Ptr> stopping;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        for (auto it = _tasks.begin(); it != _tasks.end();) {
            if (owner.empty() || it->second.first == owner) {
                stopping.push_back(it->second.second);
                it = _tasks.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& task : stopping) {
        stopTask(task);
    }
}

void TimerService::stop() {
    cancelOwner("");
    _timer.cancel(true);
}

}  // namespace switchboard
