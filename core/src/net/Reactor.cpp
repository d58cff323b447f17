// Event loops on epoll (see Reactor.h). Sockets are non-blocking and registered edge-triggered
// for reading and writing once, so serving a request costs no epoll_ctl call. Closing happens
// only between event batches (a connection is never freed while an event for it is pending).
#include "net/Reactor.h"

#include <Poco/Logger.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <stdexcept>

#include "services/MetricsRegistry.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

namespace {

std::atomic<std::uint64_t> nextConnectionId{1};

constexpr std::size_t kReadChunk = 64 * 1024;
/// An output buffer larger than this is freed once written out: an idle connection (100,000
/// registered agents) keeps no burst's buffer, a busy one reuses a small one.
constexpr std::size_t kKeptOutput = 4 * 1024;
/// Bytes one connection may read per wake-up before the others on its loop get a turn.
constexpr std::size_t kReadTurn = 256 * 1024;
constexpr std::chrono::seconds kLinger{2};
constexpr std::uintptr_t kAcceptorTag = 1;

Poco::Logger& reactorLog() {
    return Poco::Logger::get("switchboard.reactor");
}

}  // namespace

void Protocol::onEof(Connection& conn) {
    conn.abort(CloseReason::PeerClosed);
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(int fd, std::string peerHost, SSL* ssl, const Options& options)
    : _fd(fd),
      _peerHost(std::move(peerHost)),
      _ssl(ssl),
      _options(options),
      _id(nextConnectionId.fetch_add(1)),
      _state(ssl != nullptr ? State::Handshaking : State::Open),
      _lastWrite(std::chrono::steady_clock::now()) {
    _deadline = _lastWrite + _options.handshake;
}

Connection::~Connection() {
    if (_state != State::Closed && _fd >= 0) {
        ::close(_fd);
    }
    if (_ssl != nullptr) {
        SSL_free(_ssl);
    }
}

Poco::Logger& Connection::ownerLogger(const char* fallback) const {
    return Poco::Logger::get(_owner.empty() ? std::string(fallback) : "switchboard." + _owner);
}

bool Connection::inLoopThread() const {
    return _loop != nullptr && _loop->inLoopThread();
}

bool Connection::post(std::function<void()> task) {
    return _loop != nullptr && _loop->post(std::move(task));
}

SteadyTime Connection::lastWriteProgress() const {
    std::lock_guard<std::mutex> lock(_outMutex);
    return _lastWrite;
}

std::size_t Connection::queued() const {
    std::lock_guard<std::mutex> lock(_outMutex);
    return _out.size() - _outOffset;
}

void Connection::setOwner(const std::string& owner) {
    if (_reactor != nullptr && !_owner.empty()) {
        _reactor->own(_owner, -1);
    }
    _owner = owner;
    if (_reactor != nullptr && !_owner.empty()) {
        _reactor->own(_owner, +1);
    }
}

bool Connection::send(std::string_view bytes) {
    if (_closing.load(std::memory_order_relaxed)) {
        return false;
    }
    bool overflow = false;
    bool schedule = false;
    {
        std::lock_guard<std::mutex> lock(_outMutex);
        if (_closeAfterFlush) {
            return false;
        }
        std::size_t pending = _out.size() - _outOffset;
        if (_options.maxOutbound > 0 && pending + bytes.size() > _options.maxOutbound) {
            overflow = true;
        } else {
            if (pending == 0) {
                _lastWrite = std::chrono::steady_clock::now();  // the stall clock starts now
            }
            _out.append(bytes.data(), bytes.size());
            if (!_flushScheduled) {
                _flushScheduled = true;
                schedule = true;
            }
        }
    }
    if (overflow) {
        abort(CloseReason::Overflow);
        return false;
    }
    if (schedule) {
        scheduleFlush();
    }
    return true;
}

void Connection::scheduleFlush() {
    if (_loop == nullptr) {
        return;  // not adopted yet: adopt() flushes
    }
    auto self = shared_from_this();
    if (_loop->inLoopThread()) {
        _loop->markFlush(self);
    } else {
        _loop->post([self] { self->flush(); });
    }
}

void Connection::closeAfterFlush(CloseReason reason) {
    requestClose(reason, true);
}

void Connection::abort(CloseReason reason) {
    requestClose(reason, false);
}

void Connection::requestClose(CloseReason reason, bool afterFlush) {
    if (afterFlush) {
        bool schedule = false;
        {
            std::lock_guard<std::mutex> lock(_outMutex);
            if (_closeAfterFlush || _closing.load()) {
                return;
            }
            _closeAfterFlush = true;
            _closeReason = reason;
            if (!_flushScheduled) {
                _flushScheduled = true;
                schedule = true;
            }
        }
        _closing = true;
        if (schedule) {
            scheduleFlush();
        }
        return;
    }
    if (_aborted.exchange(true)) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(_outMutex);
        if (!_closeAfterFlush) {
            _closeReason = reason;  // the first reason given is the one the handler hears
        }
        _closeAfterFlush = true;
    }
    _closing = true;
    if (_loop == nullptr) {
        return;
    }
    auto self = shared_from_this();
    if (_loop->inLoopThread()) {
        _loop->markClose(self);
    } else {
        _loop->post([self] { self->finishClose(); });
    }
}

void Connection::resumeReading() {
    _paused = false;
    if (_readPending && _loop != nullptr) {
        _loop->markRead(shared_from_this());
    }
}

long Connection::readSome(char* buffer, std::size_t size) {
    if (_ssl == nullptr) {
        for (;;) {
            ssize_t n = ::recv(_fd, buffer, size, 0);
            if (n >= 0) {
                return static_cast<long>(n);
            }
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
        }
    }
    ERR_clear_error();
    int n = SSL_read(_ssl, buffer, static_cast<int>(size));
    if (n > 0) {
        return n;
    }
    switch (SSL_get_error(_ssl, n)) {
        case SSL_ERROR_WANT_READ:
            return -1;
        case SSL_ERROR_WANT_WRITE:
            _readWantsWrite = true;
            return -1;
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_SYSCALL:
            return errno == 0 ? 0 : -2;  // EOF without close_notify counts as an end
        default:
            return -2;
    }
}

long Connection::writeSome(const char* data, std::size_t size) {
    if (_ssl == nullptr) {
        for (;;) {
            ssize_t n = ::send(_fd, data, size, MSG_NOSIGNAL);
            if (n >= 0) {
                return static_cast<long>(n);
            }
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
        }
    }
    ERR_clear_error();
    int n = SSL_write(_ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 20)));
    if (n > 0) {
        return n;
    }
    int error = SSL_get_error(_ssl, n);
    return error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ ? -1 : -2;
}

void Connection::handleEvents(std::uint32_t events) {
    if (_state == State::Closed) {
        return;
    }
    if (_state == State::Handshaking && !handshake()) {
        return;
    }
    if ((events & EPOLLOUT) != 0) {
        _writeBlocked = false;
        if (_readWantsWrite) {
            _readWantsWrite = false;
            _readPending = true;
        }
        flush();
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        _readPending = true;
    }
    if (_readPending && !_paused) {
        readable();
    }
}

bool Connection::handshake() {
    ERR_clear_error();
    int rc = SSL_do_handshake(_ssl);
    if (rc == 1) {
        _state = State::Open;
        _readPending = true;
        if (_protocol) {
            auto protocol = _protocol;
            protocol->onOpen(*this);
        }
        return _state != State::Closed;
    }
    int error = SSL_get_error(_ssl, rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        reactorLog().debug("TLS handshake with %s failed", _peerHost);
        abort(CloseReason::ProtocolError);
    }
    return false;
}

void Connection::readable() {
    thread_local std::unique_ptr<char[]> buffer(new char[kReadChunk]);
    std::size_t total = 0;
    auto protocol = _protocol;  // an upgrade may replace it while it runs
    while (!_paused && _state != State::Closed) {
        long n = readSome(buffer.get(), kReadChunk);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            if (_state == State::Lingering || _closing.load() || !protocol) {
                // closing: what the peer still sends is read and dropped
            } else {
                protocol->onBytes(*this, buffer.get(), static_cast<std::size_t>(n));
                protocol = _protocol;
            }
            if (total >= kReadTurn) {
                _loop->markRead(shared_from_this());  // the others on this loop go first
                return;
            }
            continue;
        }
        _readPending = false;
        if (n == 0) {
            if (_state == State::Lingering || _closing.load() || !protocol) {
                abort(CloseReason::PeerClosed);
            } else {
                protocol->onEof(*this);
            }
        } else if (n == -2) {
            abort(CloseReason::Lost);  // reset
        }
        return;
    }
}

void Connection::flush() {
    if (_state == State::Closed || _state == State::Handshaking) {
        std::lock_guard<std::mutex> lock(_outMutex);
        _flushScheduled = false;  // the handshake's end flushes
        return;
    }
    bool failed = false;
    bool drainedAndClose = false;
    {
        std::lock_guard<std::mutex> lock(_outMutex);
        _flushScheduled = false;
        while (_outOffset < _out.size() && !_writeBlocked) {
            long n = writeSome(_out.data() + _outOffset, _out.size() - _outOffset);
            if (n > 0) {
                _outOffset += static_cast<std::size_t>(n);
                _lastWrite = std::chrono::steady_clock::now();
            } else if (n == -1) {
                _writeBlocked = true;  // EPOLLOUT tells when to go on
            } else {
                failed = true;
                break;
            }
        }
        if (_outOffset == _out.size()) {
            _outOffset = 0;
            if (_out.capacity() > kKeptOutput) {
                std::string().swap(_out);  // a large response gives its memory back
            } else {
                _out.clear();
            }
            drainedAndClose = _closeAfterFlush;
        } else if (_outOffset > kReadChunk && _outOffset * 2 > _out.size()) {
            _out.erase(0, _outOffset);
            _outOffset = 0;
        }
    }
    if (failed) {
        abort(CloseReason::Lost);
        return;
    }
    if (!drainedAndClose || _state != State::Open) {
        return;
    }
    if (_options.lingerOnClose) {
        // Our last byte is out: end our side, then read and drop what the peer still sends for
        // a moment, so it sees our answer rather than a reset caused by its unread bytes.
        if (_ssl != nullptr) {
            ERR_clear_error();
            SSL_shutdown(_ssl);
        }
        ::shutdown(_fd, SHUT_WR);
        _state = State::Lingering;
        _deadline = std::chrono::steady_clock::now() + kLinger;
        _readPending = true;
        _paused = false;
        _loop->markRead(shared_from_this());
        return;
    }
    _loop->markClose(shared_from_this());
}

void Connection::tick(SteadyTime now) {
    if (_state == State::Closed) {
        return;
    }
    if (_state == State::Handshaking || _state == State::Lingering) {
        if (now > _deadline) {
            abort(_state == State::Handshaking ? CloseReason::Timeout : CloseReason::PeerClosed);
        }
        return;
    }
    bool stalled = false;
    {
        std::lock_guard<std::mutex> lock(_outMutex);
        stalled = _outOffset < _out.size() && _options.writeStall.count() > 0 &&
                  now - _lastWrite > _options.writeStall;
    }
    if (stalled) {
        abort(CloseReason::Timeout);
        return;
    }
    if (_protocol && !_closing.load()) {
        auto protocol = _protocol;
        protocol->onTick(*this, now);
    }
}

void Connection::finishClose() {
    if (_state == State::Closed) {
        return;
    }
    bool wasOpen = _state == State::Open || _state == State::Lingering;
    _state = State::Closed;
    _closing = true;
    if (_ssl != nullptr && wasOpen) {
        ERR_clear_error();
        SSL_shutdown(_ssl);  // one attempt at close_notify; the socket closes regardless
    }
    ::close(_fd);  // also leaves the epoll set
    auto self = shared_from_this();
    CloseReason reason;
    {
        std::lock_guard<std::mutex> lock(_outMutex);
        reason = _closeReason;
        std::string().swap(_out);
        _outOffset = 0;
    }
    if (_loop != nullptr && _loop->_conns.erase(this) > 0) {
        --_loop->_count;
    }
    if (auto protocol = std::move(_protocol)) {
        try {
            protocol->onClosed(*this, reason);
        } catch (const std::exception& e) {
            ownerLogger("switchboard.reactor")
                .error("connection %Lu (%s): close handler failed: %s",
                       static_cast<Poco::UInt64>(_id), _peerHost, std::string(e.what()));
        }
    }
    if (_reactor != nullptr && !_owner.empty()) {
        _reactor->own(_owner, -1);
    }
    if (_release) {
        auto release = std::move(_release);
        release();
    }
}

// ---------------------------------------------------------------------------------------------
// ReactorLoop

ReactorLoop::ReactorLoop(Reactor& reactor, std::size_t index) : _reactor(reactor) {
    _epoll = epoll_create1(EPOLL_CLOEXEC);
    _wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (_epoll < 0 || _wake < 0) {
        throw std::runtime_error(std::string("cannot create an event loop: ") +
                                 std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    epoll_ctl(_epoll, EPOLL_CTL_ADD, _wake, &ev);
    std::promise<void> started;
    auto ready = started.get_future();
    _thread = std::thread([this, &started, index] {
        nameThisThread("sb-loop-" + std::to_string(index));
        _threadId = std::this_thread::get_id();
        started.set_value();
        run();
    });
    ready.wait();
}

ReactorLoop::~ReactorLoop() {
    stop();
    ::close(_wake);
    ::close(_epoll);
}

bool ReactorLoop::post(std::function<void()> task) {
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(_postMutex);
        if (_stopped) {
            return false;
        }
        wake = _posted.empty();
        _posted.push_back(std::move(task));
    }
    if (wake) {
        std::uint64_t one = 1;
        ssize_t n = ::write(_wake, &one, sizeof one);
        (void)n;
    }
    return true;
}

void ReactorLoop::runPosted() {
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard<std::mutex> lock(_postMutex);
        tasks.swap(_posted);
    }
    for (auto& task : tasks) {
        try {
            task();
        } catch (const std::exception& e) {
            reactorLog().error("event-loop task failed: %s", std::string(e.what()));
        }
    }
}

void ReactorLoop::markFlush(const std::shared_ptr<Connection>& conn) {
    _toFlush.push_back(conn);
}

void ReactorLoop::markClose(const std::shared_ptr<Connection>& conn) {
    _toClose.push_back(conn);
}

void ReactorLoop::markRead(const std::shared_ptr<Connection>& conn) {
    _toRead.push_back(conn);
}

void ReactorLoop::adopt(std::shared_ptr<Connection> conn) {
    conn->_loop = this;
    conn->_reactor = &_reactor;
    if (!conn->_owner.empty()) {
        _reactor.own(conn->_owner, +1);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = conn.get();
    if (epoll_ctl(_epoll, EPOLL_CTL_ADD, conn->_fd, &ev) != 0) {
        reactorLog().error("cannot watch a connection: %s", std::string(std::strerror(errno)));
        conn->_closing = true;
        conn->_state = Connection::State::Closed;
        ::close(conn->_fd);
        if (!conn->_owner.empty()) {
            _reactor.own(conn->_owner, -1);
        }
        if (conn->_release) {
            conn->_release();
        }
        return;
    }
    _conns.emplace(conn.get(), conn);
    ++_count;
    if (conn->_state == Connection::State::Open && conn->_protocol) {
        auto protocol = conn->_protocol;
        protocol->onOpen(*conn);
    }
    // Edge-triggered: the registration reports the socket writable at once, which starts the
    // handshake or the first read.
}

void ReactorLoop::addAcceptor(const std::shared_ptr<Acceptor>& acceptor) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = reinterpret_cast<std::uintptr_t>(acceptor.get()) | kAcceptorTag;
    if (epoll_ctl(_epoll, EPOLL_CTL_ADD, acceptor->fd, &ev) != 0) {
        throw std::runtime_error(std::string("cannot watch a listening socket: ") +
                                 std::strerror(errno));
    }
    _acceptors.push_back(acceptor);
}

void ReactorLoop::removeAcceptor(const std::shared_ptr<Acceptor>& acceptor) {
    epoll_ctl(_epoll, EPOLL_CTL_DEL, acceptor->fd, nullptr);
    for (auto it = _acceptors.begin(); it != _acceptors.end(); ++it) {
        if (*it == acceptor) {
            _acceptors.erase(it);
            break;
        }
    }
}

void ReactorLoop::acceptFrom(Acceptor& acceptor) {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        int fd = ::accept4(acceptor.fd, reinterpret_cast<sockaddr*>(&peer), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the queued connection would wake us forever. Leave it;
                // the next tick retries (logged once a tick at most).
                static std::atomic<std::int64_t> lastLog{0};
                std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
                if (now - lastLog.load() > 1000000000) {
                    lastLog = now;
                    reactorLog().error(
                        "cannot accept: out of file descriptors (raise LimitNOFILE)");
                }
                epoll_ctl(_epoll, EPOLL_CTL_DEL, acceptor.fd, nullptr);
                _starved.push_back(&acceptor);
            }
            return;
        }
        std::shared_ptr<Connection> conn;
        try {
            conn = acceptor.accept(fd, peer, length);
        } catch (const std::exception& e) {
            reactorLog().error("accept handler failed: %s", std::string(e.what()));
            ::close(fd);
            continue;
        }
        if (!conn) {
            continue;
        }
        ReactorLoop& target = _reactor.nextLoop();
        if (&target == this) {
            adopt(std::move(conn));
        } else {
            target.post([conn, &target] { target.adopt(conn); });
        }
    }
}

void ReactorLoop::closeMatching(const std::function<bool(const Connection&)>& match,
                                CloseReason reason) {
    std::vector<std::shared_ptr<Connection>> matched;
    for (const auto& [key, conn] : _conns) {
        if (match(*conn)) {
            matched.push_back(conn);
        }
    }
    for (const auto& conn : matched) {
        {
            std::lock_guard<std::mutex> lock(conn->_outMutex);
            conn->_closeReason = reason;
        }
        conn->finishClose();
    }
}

void ReactorLoop::run() {
    using Clock = std::chrono::steady_clock;
    std::vector<epoll_event> events(256);
    auto nextTick = Clock::now() + std::chrono::seconds(1);
    while (!_stopping.load()) {
        int timeout = 0;
        bool pending = !_toRead.empty() || !_toFlush.empty() || !_toClose.empty();
        if (!pending) {
            auto wait =
                std::chrono::duration_cast<std::chrono::milliseconds>(nextTick - Clock::now());
            timeout = static_cast<int>(std::max<long>(0, std::min<long>(wait.count() + 1, 1000)));
        }
        int n = epoll_wait(_epoll, events.data(), static_cast<int>(events.size()), timeout);
        if (n < 0 && errno != EINTR) {
            reactorLog().error("epoll_wait failed: %s", std::string(std::strerror(errno)));
        }
        for (int i = 0; i < n; ++i) {
            std::uint64_t data = events[i].data.u64;
            if (data == 0) {
                std::uint64_t count = 0;
                ssize_t r = ::read(_wake, &count, sizeof count);
                (void)r;
            } else if ((data & kAcceptorTag) != 0) {
                acceptFrom(*reinterpret_cast<Acceptor*>(data & ~std::uint64_t{kAcceptorTag}));
            } else {
                auto* conn = static_cast<Connection*>(events[i].data.ptr);
                try {
                    conn->handleEvents(events[i].events);
                } catch (const std::exception& e) {
                    conn->ownerLogger("switchboard.reactor")
                        .error("connection %Lu (%s) failed: %s",
                               static_cast<Poco::UInt64>(conn->id()), conn->peerHost(),
                               std::string(e.what()));
                    conn->abort(CloseReason::ProtocolError);
                }
            }
        }
        runPosted();
        // Reads that gave way to others, then writes collected during the batch (one write
        // per connection for all its responses), then closes: in this order, so a response is
        // out before its connection closes.
        if (!_toRead.empty()) {
            std::vector<std::shared_ptr<Connection>> again;
            again.swap(_toRead);
            for (const auto& conn : again) {
                if (conn->_state != Connection::State::Closed && !conn->_paused) {
                    try {
                        conn->readable();
                    } catch (const std::exception& e) {
                        conn->abort(CloseReason::ProtocolError);
                    }
                }
            }
        }
        while (!_toFlush.empty()) {
            std::vector<std::shared_ptr<Connection>> flush;
            flush.swap(_toFlush);
            for (const auto& conn : flush) {
                conn->flush();
            }
        }
        while (!_toClose.empty()) {
            std::vector<std::shared_ptr<Connection>> close;
            close.swap(_toClose);
            for (const auto& conn : close) {
                conn->finishClose();
            }
        }
        auto now = Clock::now();
        if (now >= nextTick) {
            nextTick = now + std::chrono::seconds(1);
            for (Acceptor* acceptor : _starved) {
                for (const auto& a : _acceptors) {
                    if (a.get() == acceptor) {
                        epoll_event ev{};
                        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
                        ev.data.u64 = reinterpret_cast<std::uintptr_t>(acceptor) | kAcceptorTag;
                        epoll_ctl(_epoll, EPOLL_CTL_ADD, acceptor->fd, &ev);
                    }
                }
            }
            _starved.clear();
            for (const auto& [key, conn] : _conns) {
                try {
                    conn->tick(now);
                } catch (const std::exception& e) {
                    conn->abort(CloseReason::ProtocolError);
                }
            }
        }
    }
    {
        std::lock_guard<std::mutex> lock(_postMutex);
        _stopped = true;
    }
    runPosted();
    for (auto& conn : _toFlush) {
        conn->flush();
    }
    _toFlush.clear();
    _toRead.clear();
    _toClose.clear();
    closeMatching([](const Connection&) { return true; }, CloseReason::Shutdown);
    for (const auto& acceptor : _acceptors) {
        epoll_ctl(_epoll, EPOLL_CTL_DEL, acceptor->fd, nullptr);
    }
    _acceptors.clear();
}

void ReactorLoop::stop() {
    if (!_stopping.exchange(true)) {
        std::uint64_t one = 1;
        ssize_t n = ::write(_wake, &one, sizeof one);
        (void)n;
    }
    if (_thread.joinable() && std::this_thread::get_id() != _thread.get_id()) {
        _thread.join();
    }
}

// ---------------------------------------------------------------------------------------------
// Reactor

Reactor::Reactor(std::size_t threads) {
    for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
        _loops.push_back(std::make_unique<ReactorLoop>(*this, i));
    }
}

Reactor::~Reactor() {
    stop();
}

ReactorLoop& Reactor::nextLoop() {
    return *_loops[_next.fetch_add(1, std::memory_order_relaxed) % _loops.size()];
}

void Reactor::onEveryLoop(const std::function<void(ReactorLoop&)>& task) {
    std::vector<std::future<void>> done;
    for (auto& loop : _loops) {
        if (loop->inLoopThread()) {
            task(*loop);
            continue;
        }
        auto promise = std::make_shared<std::promise<void>>();
        done.push_back(promise->get_future());
        ReactorLoop* l = loop.get();
        if (!loop->post([promise, l, &task] {
                try {
                    task(*l);
                } catch (...) {
                }
                promise->set_value();
            })) {
            promise->set_value();
        }
    }
    for (auto& f : done) {
        f.wait();
    }
}

void Reactor::listen(std::shared_ptr<Acceptor> acceptor) {
    std::string failure;
    onEveryLoop([&](ReactorLoop& loop) {
        try {
            loop.addAcceptor(acceptor);
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    if (!failure.empty()) {
        unlisten(acceptor);
        throw std::runtime_error(failure);
    }
}

void Reactor::unlisten(const std::shared_ptr<Acceptor>& acceptor) {
    onEveryLoop([&](ReactorLoop& loop) { loop.removeAcceptor(acceptor); });
}

void Reactor::closeMatching(std::function<bool(const Connection&)> match, CloseReason reason) {
    onEveryLoop([&](ReactorLoop& loop) { loop.closeMatching(match, reason); });
}

void Reactor::own(const std::string& owner, int delta) {
    std::lock_guard<std::mutex> lock(_ownersMutex);
    auto& n = _owners[owner];
    if (delta > 0) {
        n += static_cast<std::size_t>(delta);
    } else if (n > 0) {
        --n;
    }
    if (n == 0) {
        _owners.erase(owner);
    }
}

std::size_t Reactor::ownedBy(const std::string& owner) const {
    std::lock_guard<std::mutex> lock(_ownersMutex);
    auto it = _owners.find(owner);
    return it == _owners.end() ? 0 : it->second;
}

std::size_t Reactor::closeOwner(const std::string& owner, SteadyTime deadline) {
    std::size_t n = ownedBy(owner);
    closeMatching([&owner](const Connection& c) { return c.owner() == owner; },
                  CloseReason::Shutdown);
    // A connection adopted by a loop after its turn (posted from another loop's accept) is
    // closed by a second pass; then its handlers have run.
    while (ownedBy(owner) > 0 && std::chrono::steady_clock::now() < deadline) {
        closeMatching([&owner](const Connection& c) { return c.owner() == owner; },
                      CloseReason::Shutdown);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return n;
}

void Reactor::stop() {
    for (auto& loop : _loops) {
        loop->stop();
    }
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
