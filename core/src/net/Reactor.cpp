// Reactor loops (see Reactor.h). Sockets stay blocking with short timeouts (POCO's WebSocket
// does not support non-blocking sockets); readiness comes from epoll through Poco's PollSet.
#include "net/Reactor.h"

#include "services/MetricsRegistry.h"

#include <Poco/Logger.h>

namespace switchboard {

Poco::Logger& ReactorConnection::ownerLogger(const char* fallback) const {
    return Poco::Logger::get(_owner.empty() ? std::string(fallback) : "switchboard." + _owner);
}

void ReactorConnection::requestClose() {
    if (!_closeRequested.exchange(true) && _loop != nullptr) {
        _loop->wakeForClose();
    }
}

ReactorLoop::ReactorLoop() : _thread([this] { run(); }) {}

ReactorLoop::~ReactorLoop() {
    stop();
}

void ReactorLoop::adopt(std::shared_ptr<ReactorConnection> conn) {
    conn->_loop = this;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _conns[conn->socket().impl()] = conn;
    }
    _poll.add(conn->socket(), Poco::Net::PollSet::POLL_READ | Poco::Net::PollSet::POLL_ERROR);
    if (conn->closeRequested()) {
        _pendingClose = true;  // closed by its open handler before it got here
    }
    _hasWork.notify_one();
}

void ReactorLoop::wakeForClose() {
    _pendingClose = true;
}

std::size_t ReactorLoop::closeOwner(const std::string& owner) {
    std::lock_guard<std::mutex> lock(_mutex);
    std::size_t n = 0;
    for (const auto& [key, conn] : _conns) {
        if (conn->owner() == owner) {
            conn->requestClose();
            ++n;
        }
    }
    return n;
}

bool ReactorLoop::busyWith(const std::string& owner) const {
    if (_removing.load() > 0) {
        return true;
    }
    std::lock_guard<std::mutex> lock(_mutex);
    for (const auto& [key, conn] : _conns) {
        if (conn->owner() == owner) {
            return true;
        }
    }
    return false;
}

std::size_t ReactorLoop::size() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _conns.size();
}

void ReactorLoop::remove(const std::shared_ptr<ReactorConnection>& conn) {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_conns.erase(conn->socket().impl()) == 0) {
            return;
        }
        ++_removing;  // under the lock, so busyWith() never sees neither the entry nor this
    }
    struct Done {
        std::atomic<int>& n;
        ~Done() { --n; }
    } done{_removing};
    try {
        _poll.remove(conn->socket());  // before close: epoll_ctl on a closed fd throws
    } catch (...) {
    }
    try {
        conn->onClosed();
    } catch (const std::exception& e) {
        conn->ownerLogger("switchboard.reactor")
            .warning("connection close failed: %s", std::string(e.what()));
    }
}

void ReactorLoop::run() {
    using Clock = std::chrono::steady_clock;
    auto nextTick = Clock::now() + std::chrono::seconds(1);
    while (!_stopping) {
        {
            std::unique_lock<std::mutex> lock(_mutex);
            if (_conns.empty()) {
                // PollSet returns at once when empty: sleep until a socket arrives instead.
                _hasWork.wait_for(lock, std::chrono::milliseconds(200));
                continue;
            }
        }
        Poco::Net::PollSet::SocketModeMap ready;
        try {
            ready = _poll.poll(Poco::Timespan(0, 100 * 1000));
        } catch (const Poco::Exception& e) {
            Poco::Logger::get("switchboard.reactor").error("poll failed: %s", e.displayText());
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        for (const auto& [socket, mode] : ready) {
            std::shared_ptr<ReactorConnection> conn;
            {
                std::lock_guard<std::mutex> lock(_mutex);
                auto it = _conns.find(socket.impl());
                if (it == _conns.end()) {
                    continue;
                }
                conn = it->second;
            }
            bool keep = false;
            try {
                keep = !conn->closeRequested() && conn->onReadable();
            } catch (const std::exception& e) {
                conn->ownerLogger("switchboard.reactor")
                    .debug("connection dropped: %s", std::string(e.what()));
            }
            if (!keep) {
                remove(conn);
            }
        }
        auto now = Clock::now();
        bool tick = now >= nextTick;
        if (tick || _pendingClose.exchange(false)) {
            std::vector<std::shared_ptr<ReactorConnection>> finished;
            {
                std::lock_guard<std::mutex> lock(_mutex);
                for (const auto& [key, conn] : _conns) {
                    if (conn->closeRequested() || (tick && !conn->onTick(now))) {
                        finished.push_back(conn);
                    }
                }
            }
            for (const auto& conn : finished) {
                remove(conn);
            }
            if (tick) {
                nextTick = now + std::chrono::seconds(1);
            }
        }
    }
    std::vector<std::shared_ptr<ReactorConnection>> rest;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        for (const auto& [key, conn] : _conns) {
            rest.push_back(conn);
        }
    }
    for (const auto& conn : rest) {
        remove(conn);
    }
}

void ReactorLoop::stop() {
    if (_stopping.exchange(true)) {
        if (_thread.joinable()) {
            _thread.join();
        }
        return;
    }
    _hasWork.notify_all();
    if (_thread.joinable()) {
        _thread.join();
    }
}

Reactor::Reactor(std::size_t threads) {
    for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
        _loops.push_back(std::make_unique<ReactorLoop>());
    }
}

Reactor::~Reactor() {
    stop();
}

void Reactor::adopt(std::shared_ptr<ReactorConnection> conn, std::string owner) {
    conn->_owner = std::move(owner);
    std::size_t i = _next.fetch_add(1) % _loops.size();
    _loops[i]->adopt(std::move(conn));
}

void Reactor::stop() {
    for (auto& loop : _loops) {
        loop->stop();
    }
}

std::size_t Reactor::closeOwner(const std::string& owner,
                                std::chrono::steady_clock::time_point deadline) {
    std::size_t n = 0;
    for (auto& loop : _loops) {
        n += loop->closeOwner(owner);
    }
    for (auto& loop : _loops) {
        while (loop->busyWith(owner) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    return n;
}

std::size_t Reactor::connections() const {
    std::size_t n = 0;
    for (const auto& loop : _loops) {
        n += loop->size();
    }
    return n;
}

void Reactor::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        out +=
            "# HELP switchboard_reactor_connections Connections served by the event loops\n"
            "# TYPE switchboard_reactor_connections gauge\nswitchboard_reactor_connections " +
            std::to_string(connections()) + "\n";
    });
}

}  // namespace switchboard
