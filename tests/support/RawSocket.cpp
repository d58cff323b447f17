// Raw TCP client and HTTP response parser for hostile-client tests (see RawSocket.h).
#include "RawSocket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace switchboard::test {

namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

sockaddr_in loopback(const std::string& host, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    return a;
}

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

/// Parses a chunked body starting at `at`; returns the offset after it, or npos if incomplete.
std::size_t parseChunked(const std::string& bytes, std::size_t at, std::string& body) {
    for (;;) {
        std::size_t eol = bytes.find("\r\n", at);
        if (eol == std::string::npos) {
            return std::string::npos;
        }
        std::size_t size = std::strtoul(bytes.substr(at, eol - at).c_str(), nullptr, 16);
        at = eol + 2;
        if (size == 0) {
            std::size_t end = bytes.find("\r\n", at);  // no trailers from our server
            return end == std::string::npos ? std::string::npos : end + 2;
        }
        if (bytes.size() < at + size + 2) {
            return std::string::npos;
        }
        body.append(bytes, at, size);
        at += size + 2;
    }
}

}  // namespace

RawSocket RawSocket::connectAsync(int port, const std::string& sourceHost) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return RawSocket();
    }
    if (!sourceHost.empty()) {
        sockaddr_in source = loopback(sourceHost, 0);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
            ::close(fd);
            return RawSocket();
        }
    }
    sockaddr_in target = loopback("127.0.0.1", port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
        ::close(fd);
        return RawSocket();
    }
    return RawSocket(fd);
}

RawSocket RawSocket::connect(int port, const std::string& sourceHost, int receiveBuffer) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    RawSocket s(fd);
    if (receiveBuffer > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    }
    if (!sourceHost.empty()) {
        sockaddr_in source = loopback(sourceHost, 0);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
            throw std::runtime_error("bind " + sourceHost + ": " + std::strerror(errno));
        }
    }
    sockaddr_in target = loopback("127.0.0.1", port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 5000) != 1 || !s.connected()) {
        throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
    }
    return s;
}

RawSocket::~RawSocket() {
    close();
}

RawSocket::RawSocket(RawSocket&& other) noexcept : _fd(other._fd), _eof(other._eof) {
    other._fd = -1;
}

RawSocket& RawSocket::operator=(RawSocket&& other) noexcept {
    if (this != &other) {
        close();
        _fd = other._fd;
        _eof = other._eof;
        other._fd = -1;
    }
    return *this;
}

bool RawSocket::connected() const {
    if (_fd < 0) {
        return false;
    }
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    return ::getpeername(_fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
}

bool RawSocket::failed() const {
    if (_fd < 0) {
        return true;
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(_fd, SOL_SOCKET, SO_ERROR, &error, &len);
    return error != 0;
}

bool RawSocket::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        long n = sendSome(bytes.substr(sent));
        if (n < 0) {
            return false;
        }
        sent += static_cast<std::size_t>(n);
        if (sent < bytes.size()) {
            pollfd p{_fd, POLLOUT, 0};
            if (::poll(&p, 1, remainingMs(deadline)) != 1 || (p.revents & (POLLERR | POLLHUP))) {
                return false;
            }
        }
    }
    return true;
}

long RawSocket::sendSome(std::string_view bytes) {
    if (_fd < 0) {
        return -1;
    }
    ssize_t n = ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return static_cast<long>(n);
}

void RawSocket::shutdownWrite() {
    if (_fd >= 0) {
        ::shutdown(_fd, SHUT_WR);
    }
}

void RawSocket::close() {
    if (_fd >= 0) {
        ::close(_fd);
        _fd = -1;
    }
}

long RawSocket::readSome(char* buffer, std::size_t size, std::chrono::milliseconds timeout) {
    if (_fd < 0) {
        return -2;
    }
    pollfd p{_fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready != 1) {
        return -1;
    }
    ssize_t n = ::recv(_fd, buffer, size, 0);
    if (n == 0) {
        _eof = true;
        return 0;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return -1;
        }
        _eof = true;
        return -2;
    }
    return static_cast<long>(n);
}

std::string RawSocket::readFor(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string out;
    char buffer[16384];
    while (!_eof && Clock::now() < deadline) {
        long n = readSome(buffer, sizeof buffer, std::chrono::milliseconds(remainingMs(deadline)));
        if (n > 0) {
            out.append(buffer, static_cast<std::size_t>(n));
        }
    }
    return out;
}

std::string RawSocket::readUntil(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string out;
    char buffer[16384];
    while (!_eof && out.find(text) == std::string::npos && Clock::now() < deadline) {
        long n = readSome(buffer, sizeof buffer, std::chrono::milliseconds(remainingMs(deadline)));
        if (n > 0) {
            out.append(buffer, static_cast<std::size_t>(n));
        }
    }
    return out;
}

bool RawSocket::peerHungUp() const {
    if (_fd < 0) {
        return true;
    }
    pollfd p{_fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

std::string RawResponse::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

std::vector<RawResponse> parseResponses(const std::string& bytes) {
    std::vector<RawResponse> out;
    std::size_t at = 0;
    while (at < bytes.size()) {
        std::size_t headEnd = bytes.find("\r\n\r\n", at);
        if (headEnd == std::string::npos || bytes.compare(at, 5, "HTTP/") != 0) {
            break;
        }
        RawResponse r;
        std::size_t lineEnd = bytes.find("\r\n", at);
        std::string statusLine = bytes.substr(at, lineEnd - at);
        std::size_t sp = statusLine.find(' ');
        r.status = std::atoi(statusLine.c_str() + sp + 1);
        std::size_t sp2 = statusLine.find(' ', sp + 1);
        r.reason = sp2 == std::string::npos ? "" : statusLine.substr(sp2 + 1);
        for (std::size_t line = lineEnd + 2; line < headEnd;) {
            std::size_t end = bytes.find("\r\n", line);
            std::string h = bytes.substr(line, end - line);
            std::size_t colon = h.find(':');
            if (colon != std::string::npos) {
                std::size_t v = h.find_first_not_of(' ', colon + 1);
                r.headers[lower(h.substr(0, colon))] = v == std::string::npos ? "" : h.substr(v);
            }
            line = end + 2;
        }
        at = headEnd + 4;
        if (r.headers.count("content-length")) {
            std::size_t length = std::stoul(r.headers["content-length"]);
            if (bytes.size() < at + length) {
                break;
            }
            r.body = bytes.substr(at, length);
            at += length;
        } else if (lower(r.header("transfer-encoding")) == "chunked") {
            std::size_t end = parseChunked(bytes, at, r.body);
            if (end == std::string::npos) {
                break;
            }
            at = end;
        } else if (r.status != 101 && r.status != 204 && r.status != 304) {
            r.body = bytes.substr(at);
            at = bytes.size();
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<RawResponse> readResponse(RawSocket& socket, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string bytes;
    char buffer[16384];
    while (Clock::now() < deadline) {
        std::vector<RawResponse> got = parseResponses(bytes);
        if (!got.empty() &&
            (got[0].headers.count("content-length") || got[0].headers.count("transfer-encoding"))) {
            return got[0];
        }
        if (socket.closedByPeer()) {
            return got.empty() ? std::nullopt : std::optional<RawResponse>(got[0]);
        }
        long n = socket.readSome(buffer, sizeof buffer,
                                 std::chrono::milliseconds(remainingMs(deadline)));
        if (n > 0) {
            bytes.append(buffer, static_cast<std::size_t>(n));
        }
    }
    std::vector<RawResponse> got = parseResponses(bytes);
    return got.empty() ? std::nullopt : std::optional<RawResponse>(got[0]);
}

long raiseFileLimit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
    return static_cast<long>(limit.rlim_cur);
}

double millisSince(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

std::string webSocketUpgrade(const std::string& target, const std::string& headers) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
           headers + "\r\n";
}

std::string clientFrame(const std::string& payload, int opcode, std::size_t declared) {
    std::size_t length = std::max(declared, payload.size());
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    if (length < 126) {
        f += static_cast<char>(0x80 | length);
    } else if (length < 65536) {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(length >> 8);
        f += static_cast<char>(length & 0xff);
    } else {
        f += static_cast<char>(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
            f += static_cast<char>((length >> shift) & 0xff);
        }
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f += static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    return f;
}

int takeFrame(std::string& inbox, std::string& payload) {
    if (inbox.size() < 2) {
        return -1;
    }
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(inbox[i]); };
    std::size_t length = byte(1) & 0x7f;
    std::size_t at = 2;
    if (length == 126) {
        if (inbox.size() < 4) {
            return -1;
        }
        length = (byte(2) << 8) | byte(3);
        at = 4;
    } else if (length == 127) {
        if (inbox.size() < 10) {
            return -1;
        }
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) {
            length = (length << 8) | byte(i);
        }
        at = 10;
    }
    if (inbox.size() < at + length) {
        return -1;
    }
    int opcode = byte(0) & 0x0f;
    payload = inbox.substr(at, length);
    inbox.erase(0, at + length);
    return opcode;
}

RawWebSocket openRawWebSocket(int port, const std::string& target, int receiveBuffer) {
    RawWebSocket ws{RawSocket::connect(port, "", receiveBuffer), ""};
    ws.socket.send(webSocketUpgrade(target));
    std::string head = ws.socket.readUntil("\r\n\r\n", std::chrono::milliseconds(5000));
    std::size_t end = head.find("\r\n\r\n");
    if (head.compare(0, 12, "HTTP/1.1 101") != 0 || end == std::string::npos) {
        throw std::runtime_error("WebSocket upgrade refused: " + head.substr(0, 40));
    }
    ws.inbox = head.substr(end + 4);
    return ws;
}

}  // namespace switchboard::test
