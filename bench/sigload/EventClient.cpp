// sb-sigload's network core (see EventClient.h): level-triggered epoll, one loop per thread,
// writes attempted at once and finished on EPOLLOUT.
#include "EventClient.h"

#include <Poco/SHA1Engine.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace sigload {

namespace {

const std::size_t kReadBuffer = 256 * 1024;
const std::size_t kMaxFrame = 64 * 1024 * 1024;  // far above any message the server sends
const std::size_t kMaxHead = 16 * 1024;
const std::size_t kKeepCapacity = 64 * 1024;  // larger buffers are freed once empty
const char* const kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum Opcode { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

std::string base64(const unsigned char* data, std::size_t size) {
    static const char* const chars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < size; i += 3) {
        std::uint32_t v = static_cast<std::uint32_t>(data[i]) << 16;
        if (i + 1 < size) {
            v |= static_cast<std::uint32_t>(data[i + 1]) << 8;
        }
        if (i + 2 < size) {
            v |= data[i + 2];
        }
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        out += i + 1 < size ? chars[(v >> 6) & 63] : '=';
        out += i + 2 < size ? chars[v & 63] : '=';
    }
    return out;
}

std::string acceptFor(const std::string& key) {
    Poco::SHA1Engine sha;
    sha.update(key + kGuid);
    const Poco::DigestEngine::Digest& d = sha.digest();
    return base64(d.data(), d.size());
}

std::uint64_t nextRandom(std::uint64_t& state) {
    // xorshift64*: masks and keys need to be unpredictable to proxies, not to attackers.
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}

bool headerIs(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':') {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

void release(std::string& s) {
    if (s.capacity() > kKeepCapacity) {
        std::string().swap(s);
    } else {
        s.clear();
    }
}

}  // namespace

// ---- Connection -------------------------------------------------------------------------------

void Connection::sendText(std::string_view text) {
    if (_state == State::Open) {
        sendFrame(kText, text);
    }
}

void Connection::close(std::uint16_t code) {
    if (_state == State::Open) {
        char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
        sendFrame(kClose, std::string_view(payload, 2));
        if (_state == State::Open) {
            _state = State::Closing;
        }
    } else if (_state == State::Connecting || _state == State::Upgrading) {
        finish(false, "closed before the upgrade completed");
    }
}

void Connection::abort() {
    if (_state == State::Closed || _state == State::Idle) {
        return;
    }
    _loop->forget(*this);
    _state = State::Closed;
}

void Connection::sendFrame(int opcode, std::string_view payload) {
    unsigned char header[14];
    std::size_t h = 0;
    std::uint64_t n = payload.size();
    header[h++] = static_cast<unsigned char>(0x80 | opcode);
    if (n < 126) {
        header[h++] = static_cast<unsigned char>(0x80 | n);
    } else if (n <= 0xffff) {
        header[h++] = 0x80 | 126;
        header[h++] = static_cast<unsigned char>(n >> 8);
        header[h++] = static_cast<unsigned char>(n);
    } else {
        header[h++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            header[h++] = static_cast<unsigned char>(n >> shift);
        }
    }
    std::uint32_t maskWord = static_cast<std::uint32_t>(nextRandom(_loop->_random));
    unsigned char mask[4];
    std::memcpy(mask, &maskWord, 4);
    std::memcpy(header + h, mask, 4);
    h += 4;
    std::size_t at = _out.size() + h;
    _out.append(reinterpret_cast<const char*>(header), h);
    _out.append(payload.data(), payload.size());
    for (std::size_t i = 0; i < payload.size(); ++i) {
        _out[at + i] = static_cast<char>(_out[at + i] ^ mask[i & 3]);
    }
    flush();
}

void Connection::flush() {
    while (!_out.empty()) {
        ssize_t n = ::send(_fd, _out.data(), _out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            _out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!_wantWrite) {
                _loop->watch(*this, true);
            }
            return;
        }
        finish(false, std::string("send: ") + std::strerror(errno));
        return;
    }
    release(_out);
    if (_wantWrite) {
        _loop->watch(*this, false);
    }
}

void Connection::onWritable() {
    if (_state == State::Connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(_fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            finish(false, std::string("connect: ") + std::strerror(err));
            return;
        }
        _state = State::Upgrading;
    }
    flush();
}

void Connection::onReadable() {
    std::vector<char>& buf = _loop->_buffer;
    // Bounded per wake-up so that one busy connection does not starve the others on the loop.
    for (int reads = 0; reads < 8 && _state != State::Closed; ++reads) {
        ssize_t n = ::read(_fd, buf.data(), buf.size());
        if (n == 0) {
            if (_state == State::Closing) {
                finish(true, "");
            } else {
                finish(false, _state == State::Open
                                  ? "connection closed by the server without a close frame"
                                  : "connection closed by the server during the upgrade");
            }
            return;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                finish(false, std::string("read: ") + std::strerror(errno));
            }
            return;
        }
        _loop->_readAt = Clock::now();
        std::size_t size = static_cast<std::size_t>(n);
        if (_state == State::Connecting || _state == State::Upgrading) {
            _in.append(buf.data(), size);
            if (!handleUpgrade()) {
                return;
            }
            continue;
        }
        std::size_t used = 0;
        if (_in.empty()) {
            if (!parseFrames(buf.data(), size, used)) {
                return;
            }
            _in.assign(buf.data() + used, size - used);
        } else {
            _in.append(buf.data(), size);
            if (!parseFrames(_in.data(), _in.size(), used)) {
                return;
            }
            _in.erase(0, used);
        }
        if (_in.empty()) {
            release(_in);
        }
        if (size < buf.size()) {
            return;  // drained: the next read would only say EAGAIN
        }
    }
}

// Returns false once the connection is finished (or still waiting for the head: true).
bool Connection::handleUpgrade() {
    std::size_t end = _in.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (_in.size() > kMaxHead) {
            finish(false, "upgrade: response head too large");
            return false;
        }
        return true;
    }
    std::string_view head(_in.data(), end);
    std::size_t eol = head.find("\r\n");
    std::string_view status = head.substr(0, eol);
    if (status.size() < 12 || status.substr(0, 5) != "HTTP/" || status.substr(9, 3) != "101") {
        // The body usually says why (503 over a connection limit, 401, 404).
        std::string body = _in.substr(end + 4, 200);
        finish(false, "upgrade refused: " + std::string(status) + (body.empty() ? "" : " " + body));
        return false;
    }
    std::string_view accept;
    while (eol != std::string_view::npos) {
        std::size_t next = head.find("\r\n", eol + 2);
        std::string_view line = head.substr(
            eol + 2, next == std::string_view::npos ? std::string_view::npos : next - eol - 2);
        if (headerIs(line, "sec-websocket-accept")) {
            accept = trim(line.substr(21));
        }
        eol = next;
    }
    if (accept != acceptFor(_key)) {
        finish(false, "upgrade: wrong or missing Sec-WebSocket-Accept");
        return false;
    }
    _in.erase(0, end + 4);
    _state = State::Open;
    _loop->_handler.onOpen(*this);
    if (_state == State::Closed) {
        return false;
    }
    if (!_in.empty()) {
        std::size_t used = 0;
        if (!parseFrames(_in.data(), _in.size(), used)) {
            return false;
        }
        _in.erase(0, used);
    }
    return true;
}

// Handles every whole frame in data; used says how many bytes they took. False once finished.
bool Connection::parseFrames(const char* data, std::size_t size, std::size_t& used) {
    used = 0;
    while (size - used >= 2) {
        const auto* b = reinterpret_cast<const unsigned char*>(data + used);
        std::size_t left = size - used;
        bool fin = (b[0] & 0x80) != 0;
        int opcode = b[0] & 0x0f;
        std::uint64_t len = b[1] & 0x7f;
        std::size_t h = 2;
        if (len == 126) {
            if (left < 4) {
                break;
            }
            len = (static_cast<std::uint64_t>(b[2]) << 8) | b[3];
            h = 4;
        } else if (len == 127) {
            if (left < 10) {
                break;
            }
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | b[2 + i];
            }
            h = 10;
        }
        if ((b[0] & 0x70) != 0 || (b[1] & 0x80) != 0) {
            finish(false, "protocol error: reserved bits or a masked frame from the server");
            return false;
        }
        if (len > kMaxFrame) {
            finish(false, "protocol error: frame of " + std::to_string(len) + " bytes");
            return false;
        }
        if (left - h < len) {
            break;
        }
        handleFrame(opcode, fin, std::string_view(data + used + h, static_cast<std::size_t>(len)));
        used += h + static_cast<std::size_t>(len);
        if (_state == State::Closed) {
            return false;
        }
    }
    return true;
}

void Connection::handleFrame(int opcode, bool fin, std::string_view payload) {
    switch (opcode) {
        case kText:
        case kBinary:
            if (_messageOpcode != 0) {
                finish(false, "protocol error: a new message inside a fragmented one");
                return;
            }
            if (fin) {
                if (_state == State::Open) {
                    _loop->_handler.onText(*this, payload, _loop->_readAt);
                }
            } else {
                _messageOpcode = opcode;
                _message.assign(payload.data(), payload.size());
            }
            return;
        case kContinuation:
            if (_messageOpcode == 0) {
                finish(false, "protocol error: continuation without a message");
                return;
            }
            _message.append(payload.data(), payload.size());
            if (fin) {
                _messageOpcode = 0;
                if (_state == State::Open) {
                    _loop->_handler.onText(*this, _message, _loop->_readAt);
                }
                release(_message);
            }
            return;
        case kPing:
            if (_state == State::Open) {
                sendFrame(kPong, payload);
                _loop->_pongs.fetch_add(1, std::memory_order_relaxed);
            }
            return;
        case kPong:
            return;
        case kClose:
            _closeCode =
                payload.size() >= 2
                    ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]))
                    : 0;
            if (_state == State::Open) {
                _serverClosed = true;
                sendFrame(kClose, payload.substr(0, 2));  // echo the code, as RFC 6455 §5.5.1 asks
            }
            finish(true, "");
            return;
        default:
            finish(false, "protocol error: opcode " + std::to_string(opcode));
    }
}

void Connection::finish(bool clean, std::string error) {
    if (_state == State::Closed || _state == State::Idle) {
        return;
    }
    CloseInfo info;
    info.clean = clean;
    info.serverInitiated = _serverClosed;
    info.code = _closeCode;
    info.error = std::move(error);
    _loop->forget(*this);
    _state = State::Closed;
    _loop->_handler.onClosed(*this, info);
}

// ---- EventLoop --------------------------------------------------------------------------------

EventLoop::EventLoop(const Target& target, Handler& handler)
    : _target(target), _handler(handler), _buffer(kReadBuffer) {
    _epoll = epoll_create1(EPOLL_CLOEXEC);
    _wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (_epoll < 0 || _wake < 0) {
        throw std::runtime_error(std::string("epoll/eventfd: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(_epoll, EPOLL_CTL_ADD, _wake, &ev);
    _random = reinterpret_cast<std::uintptr_t>(this) ^
              static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
    _random |= 1;
    _thread = std::thread([this] { run(); });
}

EventLoop::~EventLoop() {
    stop();
    ::close(_wake);
    ::close(_epoll);
}

void EventLoop::stop() {
    _stop = true;
    std::uint64_t one = 1;
    (void)!::write(_wake, &one, sizeof(one));
    if (_thread.joinable()) {
        _thread.join();
    }
}

void EventLoop::post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _tasks.push_back(std::move(task));
    }
    std::uint64_t one = 1;
    (void)!::write(_wake, &one, sizeof(one));
}

void EventLoop::runTasks() {
    std::uint64_t count = 0;
    (void)!::read(_wake, &count, sizeof(count));
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        tasks.swap(_tasks);
    }
    for (auto& task : tasks) {
        task();
    }
}

void EventLoop::run() {
    std::vector<epoll_event> events(512);
    while (!_stop.load()) {
        int n = epoll_wait(_epoll, events.data(), static_cast<int>(events.size()), 200);
        for (int i = 0; i < n; ++i) {
            auto* conn = static_cast<Connection*>(events[i].data.ptr);
            if (conn == nullptr) {
                runTasks();
                continue;
            }
            std::uint32_t ev = events[i].events;
            if (conn->_state == Connection::State::Connecting) {
                conn->onWritable();  // EPOLLOUT, or EPOLLERR with SO_ERROR set
                continue;
            }
            if ((ev & EPOLLOUT) != 0 && conn->_state != Connection::State::Closed) {
                conn->flush();
            }
            if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 &&
                conn->_state != Connection::State::Closed) {
                conn->onReadable();
            }
        }
    }
}

void EventLoop::start(Connection& conn, const std::string& pathAndQuery,
                      const std::string& headers) {
    if (conn._state != Connection::State::Idle && conn._state != Connection::State::Closed) {
        return;
    }
    conn._loop = this;
    conn._state = Connection::State::Connecting;
    conn._wantWrite = false;
    conn._serverClosed = false;
    conn._closeCode = 0;
    conn._messageOpcode = 0;
    conn._in.clear();
    conn._out.clear();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn._fd = -1;
        conn._state = Connection::State::Upgrading;  // so that finish() reports it
        conn.finish(false, std::string("socket: ") + std::strerror(errno));
        return;
    }
    conn._fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!_target.sources.empty()) {
        // The port is chosen at connect(), per destination: each source address gets its own
        // 28,000 ephemeral ports instead of sharing one pool through bind().
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_addr =
            _target.sources[static_cast<std::size_t>(conn._index) % _target.sources.size()];
        if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
            conn.finish(false, std::string("bind: ") + std::strerror(errno));
            return;
        }
    }
    const sockaddr_in& dest =
        _target.otherFrom >= 0 && conn._index >= _target.otherFrom ? _target.other : _target.server;
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
    if (rc != 0 && errno != EINPROGRESS) {
        conn.finish(false, std::string("connect: ") + std::strerror(errno));
        return;
    }
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        std::uint64_t r = nextRandom(_random);
        std::memcpy(raw + i, &r, 8);
    }
    conn._key = base64(raw, sizeof(raw));
    conn._out = "GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + _target.hostHeader +
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + conn._key +
                "\r\nSec-WebSocket-Version: 13\r\n" + headers + "\r\n";
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &conn;
    epoll_ctl(_epoll, EPOLL_CTL_ADD, fd, &ev);
    conn._wantWrite = true;
}

void EventLoop::watch(Connection& conn, bool write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (write ? EPOLLOUT : 0u);
    ev.data.ptr = &conn;
    epoll_ctl(_epoll, EPOLL_CTL_MOD, conn._fd, &ev);
    conn._wantWrite = write;
}

void EventLoop::forget(Connection& conn) {
    if (conn._fd >= 0) {
        ::close(conn._fd);  // also leaves the epoll set
        conn._fd = -1;
    }
    conn._wantWrite = false;
    release(conn._in);
    release(conn._out);
    release(conn._message);
    conn._messageOpcode = 0;
}

// ---- EventClient ------------------------------------------------------------------------------

EventClient::EventClient(Target target, int threads, int connections, Handler& handler)
    : _target(std::move(target)), _handler(handler) {
    _connections.reserve(static_cast<std::size_t>(connections));
    for (int i = 0; i < connections; ++i) {
        _connections.push_back(std::make_unique<Connection>());
        _connections.back()->_index = i;
    }
    for (int t = 0; t < threads; ++t) {
        _loops.push_back(std::make_unique<EventLoop>(_target, _handler));
    }
    for (int i = 0; i < connections; ++i) {
        _connections[static_cast<std::size_t>(i)]->_loop =
            _loops[static_cast<std::size_t>(i) % _loops.size()].get();
    }
}

EventClient::~EventClient() {
    // Every thread stops before any loop goes: a loop may still post to another one.
    for (auto& loop : _loops) {
        loop->stop();
    }
    _loops.clear();
    for (auto& conn : _connections) {
        if (conn->_fd >= 0) {
            ::close(conn->_fd);
        }
    }
}

void EventClient::open(int index, std::string pathAndQuery, std::string headers) {
    Connection* conn = _connections.at(static_cast<std::size_t>(index)).get();
    EventLoop* loop = conn->_loop;
    loop->post([loop, conn, path = std::move(pathAndQuery), headers = std::move(headers)] {
        loop->start(*conn, path, headers);
    });
}

void EventClient::post(int index, std::function<void(Connection&)> fn) {
    Connection* conn = _connections.at(static_cast<std::size_t>(index)).get();
    conn->_loop->post([conn, fn = std::move(fn)] { fn(*conn); });
}

void EventClient::postAll(std::function<void(EventLoop&)> fn) {
    for (auto& loop : _loops) {
        EventLoop* l = loop.get();
        l->post([l, fn] { fn(*l); });
    }
}

long EventClient::pongs() const {
    long total = 0;
    for (const auto& loop : _loops) {
        total += loop->pongs();
    }
    return total;
}

}  // namespace sigload
