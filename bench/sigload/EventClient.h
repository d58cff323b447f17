// sb-sigload's network core: epoll loops holding many non-blocking client WebSockets, with the
// HTTP upgrade and the client side of RFC 6455 framing done here (masked text frames out; text,
// ping, pong and close in, unmasked, fragmented or not, payload lengths of 7, 16 or 64 bits).
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sigload {

using Clock = std::chrono::steady_clock;

class EventLoop;

/// How a connection ended, given to Handler::onClosed.
struct CloseInfo {
    bool clean = false;            ///< the close handshake completed (either side began it)
    bool serverInitiated = false;  ///< the server sent the first close frame
    std::uint16_t code = 0;        ///< the server's close code (0: none)
    std::string error;             ///< empty for a clean close; else what went wrong
};

/// One client WebSocket. Created by EventClient; every method must be called on the loop thread
/// that owns it (from a Handler callback or a task posted with EventClient::post).
class Connection {
public:
    enum class State { Idle, Connecting, Upgrading, Open, Closing, Closed };

    int index() const { return _index; }
    State state() const { return _state; }
    /// Sends one masked text frame (written at once as far as the socket takes it).
    void sendText(std::string_view text);
    /// Starts the close handshake with code; the connection is closed when the server answers.
    void close(std::uint16_t code = 1000);
    /// Drops the connection without a close frame (onClosed is not called).
    void abort();

private:
    friend class EventLoop;
    friend class EventClient;
    void onReadable();
    void onWritable();
    bool handleUpgrade();
    bool parseFrames(const char* data, std::size_t size, std::size_t& used);
    void handleFrame(int opcode, bool fin, std::string_view payload);
    void sendFrame(int opcode, std::string_view payload);
    void flush();
    void finish(bool clean, std::string error);

    EventLoop* _loop = nullptr;
    int _index = 0;
    int _fd = -1;
    State _state = State::Idle;
    bool _wantWrite = false;
    bool _serverClosed = false;
    std::uint16_t _closeCode = 0;
    int _messageOpcode = 0;
    std::string _key;
    std::string _in;
    std::string _out;
    std::string _message;  // a fragmented message being assembled
};

/// Scenario callbacks, called on the loop thread owning the connection.
class Handler {
public:
    virtual ~Handler() = default;
    /// The upgrade succeeded (101 with the right Sec-WebSocket-Accept).
    virtual void onOpen(Connection& conn) = 0;
    /// One whole text (or binary) message; at is when the read that completed it returned.
    virtual void onText(Connection& conn, std::string_view text, Clock::time_point at) = 0;
    /// The connection is gone (failed to connect or upgrade, closed cleanly, or dropped).
    virtual void onClosed(Connection& conn, const CloseInfo& info) = 0;
};

/// Where to connect and from which source addresses.
struct Target {
    sockaddr_in server{};
    std::string hostHeader;        ///< Host: value
    std::vector<in_addr> sources;  ///< bound in turn (by index); empty: the kernel's choice
    /// Connections from index `otherFrom` on go to `other` instead (another node); -1: none.
    sockaddr_in other{};
    int otherFrom = -1;
};

/// The loops and the connections. Connection i lives on loop i % threads for its whole life.
class EventClient {
public:
    EventClient(Target target, int threads, int connections, Handler& handler);
    ~EventClient();
    EventClient(const EventClient&) = delete;
    EventClient& operator=(const EventClient&) = delete;

    /// Starts connection index (idle or closed) to pathAndQuery with extra header lines
    /// ("Name: value\r\n" each); thread-safe.
    void open(int index, std::string pathAndQuery, std::string headers = "");
    /// Runs fn on the loop owning index; thread-safe.
    void post(int index, std::function<void(Connection&)> fn);
    /// Runs fn on every loop; thread-safe.
    void postAll(std::function<void(EventLoop&)> fn);
    int size() const { return static_cast<int>(_connections.size()); }
    int threads() const { return static_cast<int>(_loops.size()); }
    /// Pongs sent, on all loops.
    long pongs() const;

private:
    Target _target;
    Handler& _handler;
    std::vector<std::unique_ptr<Connection>> _connections;
    std::vector<std::unique_ptr<EventLoop>> _loops;
};

/// One epoll thread. Internal to EventClient (public for postAll callbacks).
class EventLoop {
public:
    EventLoop(const Target& target, Handler& handler);
    ~EventLoop();
    void post(std::function<void()> task);
    /// Ends the thread (tasks posted afterwards never run); idempotent.
    void stop();
    void start(Connection& conn, const std::string& pathAndQuery, const std::string& headers);
    long pongs() const { return _pongs.load(std::memory_order_relaxed); }

private:
    friend class Connection;
    void run();
    void watch(Connection& conn, bool write);
    void forget(Connection& conn);
    void runTasks();

    const Target& _target;
    Handler& _handler;
    int _epoll = -1;
    int _wake = -1;
    std::atomic<bool> _stop{false};
    std::atomic<long> _pongs{0};
    std::mutex _mutex;
    std::vector<std::function<void()>> _tasks;
    std::vector<char> _buffer;
    Clock::time_point _readAt;  // when the read being parsed returned
    std::uint64_t _random = 1;
    std::thread _thread;
};

}  // namespace sigload
