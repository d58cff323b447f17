// The work pool (see WorkPool.h).
#include "services/WorkPool.h"

#include <Poco/Logger.h>

#include "services/MetricsRegistry.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

WorkPool::WorkPool(std::size_t threads, std::size_t queueLimit, const std::string& name)
    : _queueLimit(queueLimit) {
    for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
        _threads.emplace_back([this, i, name] {
            nameThisThread(name + std::to_string(i));
            run();
        });
    }
}

WorkPool::~WorkPool() {
    stop();
}

bool WorkPool::submit(const std::string& owner, std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        // Idle workers take a task at once, so only what cannot start now counts as waiting.
        std::size_t idle = _threads.size() - std::min(_threads.size(), _running);
        if (_stopping || _queue.size() >= _queueLimit + idle) {
            ++_refused;
            return false;
        }
        _queue.push_back(Task{owner, std::move(task)});
        ++_pendingByOwner[owner];
    }
    _wake.notify_one();
    return true;
}

void WorkPool::waitFor(const std::string& owner) {
    std::unique_lock<std::mutex> lock(_mutex);
    _done.wait(lock, [&] { return _pendingByOwner.count(owner) == 0; });
}

void WorkPool::run() {
    std::unique_lock<std::mutex> lock(_mutex);
    for (;;) {
        _wake.wait(lock, [this] { return _stopping || !_queue.empty(); });
        if (_queue.empty()) {
            return;  // stopping and drained
        }
        Task task = std::move(_queue.front());
        _queue.pop_front();
        ++_running;
        lock.unlock();
        std::string failure;
        try {
            task.fn();
        } catch (const std::exception& e) {
            failure = std::string("work task failed: ") + e.what();
        } catch (...) {
            failure = "work task failed";
        }
        bool ok = failure.empty();
        if (!ok) {
            Poco::Logger::get(task.owner.empty() ? "switchboard.work" : "switchboard." + task.owner)
                .error(failure);
        }
        task.fn = nullptr;  // its captures go before the owner may be told it is done
        lock.lock();
        --_running;
        ++(ok ? _completed : _failed);
        auto it = _pendingByOwner.find(task.owner);
        if (it != _pendingByOwner.end() && --it->second == 0) {
            _pendingByOwner.erase(it);
        }
        _done.notify_all();
    }
}

void WorkPool::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping && _threads.empty()) {
            return;
        }
        _stopping = true;
    }
    _wake.notify_all();
    for (auto& thread : _threads) {
        if (thread.joinable()) {
            thread.join();
        }
    }
    std::lock_guard<std::mutex> lock(_mutex);
    _threads.clear();
}

std::size_t WorkPool::queued() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _queue.size();
}

std::size_t WorkPool::running() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _running;
}

void WorkPool::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        std::lock_guard<std::mutex> lock(_mutex);
        out +=
            "# HELP switchboard_work_queued Work-pool tasks waiting for a worker\n"
            "# TYPE switchboard_work_queued gauge\nswitchboard_work_queued " +
            std::to_string(_queue.size()) + "\n";
        out +=
            "# HELP switchboard_work_running Work-pool tasks running now\n"
            "# TYPE switchboard_work_running gauge\nswitchboard_work_running " +
            std::to_string(_running) + "\n";
        out +=
            "# HELP switchboard_work_tasks_total Work-pool tasks by outcome\n"
            "# TYPE switchboard_work_tasks_total counter\n";
        out += "switchboard_work_tasks_total{result=\"completed\"} " + std::to_string(_completed) +
               "\n";
        out += "switchboard_work_tasks_total{result=\"failed\"} " + std::to_string(_failed) + "\n";
        out +=
            "switchboard_work_tasks_total{result=\"refused\"} " + std::to_string(_refused) + "\n";
    });
}

}  // namespace switchboard
