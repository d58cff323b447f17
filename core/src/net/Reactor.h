// The event loops every connection lives on: N threads (server.event_threads), each with its
// own epoll set, serving non-blocking sockets (plain or TLS) from accept to close. A connection
// costs memory, never a thread: reads are fed to the connection's Protocol (HTTP, WebSocket,
// stream) as they arrive, writes go through a per-connection queue flushed when the socket is
// writable, and all socket and TLS I/O of one connection happens on its loop's thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "switchboard/CloseReason.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace Poco {
class Logger;
}

namespace switchboard {

class Connection;
class MetricsRegistry;
class ReactorLoop;
class Reactor;

using SteadyTime = std::chrono::steady_clock::time_point;

/// What a connection speaks. Every method runs on the connection's loop thread, never two at
/// once for one connection.
class Protocol {
public:
    virtual ~Protocol() = default;
    /// The connection is ready (after the TLS handshake, if any).
    virtual void onOpen(Connection& conn) = 0;
    /// Bytes as they arrived. A protocol that cannot take more now keeps the rest itself and
    /// calls conn.pauseReading().
    virtual void onBytes(Connection& conn, const char* data, std::size_t size) = 0;
    /// The peer shut its side down. The default closes the connection.
    virtual void onEof(Connection& conn);
    /// About once a second.
    virtual void onTick(Connection& conn, SteadyTime now) = 0;
    /// The connection is closed (once). Nothing more is delivered.
    virtual void onClosed(Connection& conn, CloseReason reason) = 0;
};

/// One accepted socket on a loop. Thread-safe where it says so; everything else is for the
/// loop thread (the Protocol's callbacks).
class Connection : public std::enable_shared_from_this<Connection> {
public:
    struct Options {
        std::size_t maxOutbound = 0;                 ///< queued bytes allowed (0: no limit)
        std::chrono::milliseconds writeStall{5000};  ///< no write progress while bytes wait
        std::chrono::milliseconds handshake{15000};  ///< TLS handshake deadline
        bool lingerOnClose = false;  ///< after our last byte, read and drop the peer's for 2 s
    };

    /// Takes `fd` (non-blocking); `ssl`, if set, is a server-side SSL object on it (owned).
    Connection(int fd, std::string peerHost, SSL* ssl, const Options& options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // --- any thread ---
    /// Queues bytes to send. False, and nothing queued, once the connection is closing or
    /// closed; over Options::maxOutbound the connection is closed with Overflow.
    bool send(std::string_view bytes);
    /// Closes once everything queued is written.
    void closeAfterFlush(CloseReason reason);
    /// Closes now, dropping queued output.
    void abort(CloseReason reason);
    /// Runs `task` on the loop thread (never after the loop stopped). False if it stopped.
    bool post(std::function<void()> task);
    bool open() const { return !_closing.load(std::memory_order_relaxed); }
    std::size_t queued() const;
    /// When output last made progress (bytes written to the socket, or queued on an empty
    /// queue): a connection the server keeps writing to is not idle.
    SteadyTime lastWriteProgress() const;
    const std::string& peerHost() const { return _peerHost; }
    bool secure() const { return _ssl != nullptr; }
    bool inLoopThread() const;
    std::uint64_t id() const { return _id; }

    // --- loop thread ---
    /// Stops delivering bytes until resumeReading() (what arrives meanwhile waits in the
    /// kernel, pushing back on the peer).
    void pauseReading() { _paused = true; }
    void resumeReading();
    /// Replaces the protocol (an HTTP connection upgraded to WebSocket).
    void setProtocol(std::shared_ptr<Protocol> protocol) { _protocol = std::move(protocol); }
    Protocol* protocol() const { return _protocol.get(); }
    /// Names the plugin serving this connection: Reactor::closeOwner ends it with the plugin.
    void setOwner(const std::string& owner);
    const std::string& owner() const { return _owner; }
    /// The owner's logger, "switchboard.<plugin>" (`fallback` while there is no owner).
    Poco::Logger& ownerLogger(const char* fallback) const;
    void setMaxOutbound(std::size_t bytes) { _options.maxOutbound = bytes; }
    void setWriteStall(std::chrono::milliseconds stall) { _options.writeStall = stall; }
    /// Loop thread: whether the close after the last byte lingers (Options::lingerOnClose).
    void setLingerOnClose(bool linger) { _options.lingerOnClose = linger; }
    /// Called after the connection closed and its protocol heard of it (listener accounting).
    void setReleaser(std::function<void()> release) { _release = std::move(release); }

private:
    friend class ReactorLoop;
    enum class State { Handshaking, Open, Lingering, Closed };

    void handleEvents(std::uint32_t events);
    bool handshake();
    void readable();
    void flush();
    void tick(SteadyTime now);
    void finishClose();
    void scheduleFlush();
    void requestClose(CloseReason reason, bool afterFlush);
    /// > 0 bytes, 0 end of stream, -1 would block, -2 failed.
    long readSome(char* buffer, std::size_t size);
    long writeSome(const char* data, std::size_t size);

    const int _fd;
    const std::string _peerHost;
    SSL* _ssl;
    Options _options;
    const std::uint64_t _id;
    ReactorLoop* _loop = nullptr;
    Reactor* _reactor = nullptr;
    std::shared_ptr<Protocol> _protocol;
    std::string _owner;
    std::function<void()> _release;

    State _state = State::Open;
    bool _paused = false;
    bool _readPending = false;     ///< bytes may wait in the socket (edge-triggered epoll)
    bool _readWantsWrite = false;  ///< TLS: a read needs the socket writable first
    bool _writeBlocked = false;    ///< the last write would block: wait for EPOLLOUT
    SteadyTime _deadline{};        ///< handshake or lingering deadline
    SteadyTime _lastWrite{};       ///< last write progress (or when output started waiting)

    mutable std::mutex _outMutex;
    std::string _out;              ///< guarded by _outMutex
    std::size_t _outOffset = 0;    ///< guarded by _outMutex
    bool _flushScheduled = false;  ///< guarded by _outMutex
    std::atomic<bool> _closing{false};
    std::atomic<bool> _aborted{false};
    bool _closeAfterFlush = false;                       ///< guarded by _outMutex
    CloseReason _closeReason = CloseReason::PeerClosed;  ///< guarded by _outMutex
};

/// A listening socket on the loops: each accepted socket is given to `accept` on a loop
/// thread, which returns the connection to serve (or nullptr after closing the fd itself).
struct Acceptor {
    int fd = -1;
    std::function<std::shared_ptr<Connection>(int fd, const sockaddr_storage& peer,
                                              socklen_t length)>
        accept;
};

class ReactorLoop {
public:
    /// `index` names its thread: sb-loop-<index>.
    ReactorLoop(Reactor& reactor, std::size_t index);
    ~ReactorLoop();
    ReactorLoop(const ReactorLoop&) = delete;
    ReactorLoop& operator=(const ReactorLoop&) = delete;

    bool post(std::function<void()> task);
    bool inLoopThread() const { return std::this_thread::get_id() == _threadId; }
    /// Serves `conn` from this loop (loop thread only).
    void adopt(std::shared_ptr<Connection> conn);
    void addAcceptor(const std::shared_ptr<Acceptor>& acceptor);     ///< loop thread only
    void removeAcceptor(const std::shared_ptr<Acceptor>& acceptor);  ///< loop thread only
    /// Every connection passes `match` is closed with `reason` (loop thread only).
    void closeMatching(const std::function<bool(const Connection&)>& match, CloseReason reason);
    void stop();
    std::size_t size() const { return _count.load(); }

private:
    friend class Connection;
    void run();
    void runPosted();
    void markFlush(const std::shared_ptr<Connection>& conn);
    void markClose(const std::shared_ptr<Connection>& conn);
    void markRead(const std::shared_ptr<Connection>& conn);
    void acceptFrom(Acceptor& acceptor);

    Reactor& _reactor;
    int _epoll = -1;
    int _wake = -1;
    std::mutex _postMutex;
    std::vector<std::function<void()>> _posted;  ///< guarded by _postMutex
    bool _stopped = false;                       ///< guarded by _postMutex
    std::unordered_map<const Connection*, std::shared_ptr<Connection>> _conns;
    std::vector<std::shared_ptr<Acceptor>> _acceptors;
    std::vector<Acceptor*> _starved;  ///< out of descriptors: watched again at the next tick
    std::vector<std::shared_ptr<Connection>> _toFlush, _toClose, _toRead;
    std::atomic<std::size_t> _count{0};
    std::atomic<bool> _stopping{false};
    std::thread::id _threadId;
    std::thread _thread;
};

class Reactor {
public:
    explicit Reactor(std::size_t threads);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    /// Starts accepting on `acceptor` (from every loop; new connections are spread round-robin).
    void listen(std::shared_ptr<Acceptor> acceptor);
    /// Stops accepting on it; when this returns no loop uses it any more (the caller closes fd).
    void unlisten(const std::shared_ptr<Acceptor>& acceptor);
    /// The loop the next connection goes to.
    ReactorLoop& nextLoop();
    /// Closes every connection `match` selects, on every loop, and returns once each loop ran
    /// the close (close handlers included).
    void closeMatching(std::function<bool(const Connection&)> match, CloseReason reason);
    /// Closes every connection served by plugin `owner` and waits (until `deadline` at most)
    /// for their close handlers to finish. Returns how many connections it closed.
    std::size_t closeOwner(const std::string& owner, SteadyTime deadline);
    /// Closes every connection and joins the loops. Idempotent.
    void stop();
    std::size_t connections() const;
    std::size_t ownedBy(const std::string& owner) const;
    /// Registers switchboard_reactor_connections (read at scrape time). The reactor must
    /// outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;

private:
    friend class Connection;
    friend class ReactorLoop;
    void own(const std::string& owner, int delta);
    /// Runs `task` on every loop and waits for all of them.
    void onEveryLoop(const std::function<void(ReactorLoop&)>& task);

    std::vector<std::unique_ptr<ReactorLoop>> _loops;
    std::atomic<std::size_t> _next{0};
    mutable std::mutex _ownersMutex;
    std::map<std::string, std::size_t> _owners;  ///< open connections per plugin
};

}  // namespace switchboard
