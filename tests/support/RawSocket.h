// A TCP client on plain POSIX sockets for tests that misbehave on the wire (drip bytes, cut a
// body short, never read), and a parser for the HTTP responses such a client gets back.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::test {

/// One connected, non-blocking socket; every read takes a deadline. Move-only; closes on
/// destruction.
class RawSocket {
public:
    /// Connects to 127.0.0.1:port (from `sourceHost`, e.g. 127.0.0.2, unless empty), waiting
    /// at most 5 s. `receiveBuffer` > 0 sets SO_RCVBUF before connecting. Throws
    /// std::runtime_error naming the failure.
    static RawSocket connect(int port, const std::string& sourceHost = "", int receiveBuffer = 0);
    /// Starts a connection without waiting for it (see connected()); -1 fd on failure.
    static RawSocket connectAsync(int port, const std::string& sourceHost = "");

    RawSocket() = default;
    explicit RawSocket(int fd) : _fd(fd) {}
    ~RawSocket();
    RawSocket(RawSocket&& other) noexcept;
    RawSocket& operator=(RawSocket&& other) noexcept;
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    int fd() const { return _fd; }
    bool valid() const { return _fd >= 0; }
    /// For connectAsync(): true once the connection is established, false while pending or
    /// after it failed (see failed()).
    bool connected() const;
    bool failed() const;

    /// Sends all of `bytes` (waiting for buffer space at most `timeout`). False if the peer
    /// reset, the socket is closed or the deadline passed.
    bool send(std::string_view bytes,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    /// Sends what fits into the socket buffer right now; returns the count (-1 on error).
    long sendSome(std::string_view bytes);
    void shutdownWrite();
    void close();

    /// Reads until `timeout` passes or the peer closes, whichever is first.
    std::string readFor(std::chrono::milliseconds timeout);
    /// Reads until `text` has arrived (or the peer closes, or `timeout` passes); returns all
    /// bytes read, including any after `text`.
    std::string readUntil(const std::string& text, std::chrono::milliseconds timeout);
    /// Reads into `buffer` what is there now, waiting at most `timeout` for the first byte.
    /// Returns the count, 0 at end of stream, -1 on timeout, -2 on reset.
    long readSome(char* buffer, std::size_t size, std::chrono::milliseconds timeout);
    /// True once a read saw end of stream or a reset.
    bool closedByPeer() const { return _eof; }
    /// The peer closed its side (FIN or RST arrived), found without reading any bytes: for
    /// clients that never read.
    bool peerHungUp() const;

private:
    int _fd = -1;
    bool _eof = false;
};

struct RawResponse {
    int status = 0;
    std::string reason;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;
    std::string header(const std::string& name) const;
};

/// The complete responses at the start of `bytes` (Content-Length or chunked bodies; a
/// response without either takes the rest). Incomplete trailing bytes are ignored.
std::vector<RawResponse> parseResponses(const std::string& bytes);

/// Reads one response from `socket` (waiting at most `timeout`); nullopt if none arrived.
std::optional<RawResponse> readResponse(RawSocket& socket, std::chrono::milliseconds timeout);

/// Raises this process's open-file limit to the hard limit (servers started afterwards
/// inherit it); returns the new soft limit.
long raiseFileLimit();

/// A WebSocket upgrade request for `target` (path and query) with a fixed key and `headers`
/// (complete lines, each ending in \r\n).
std::string webSocketUpgrade(const std::string& target, const std::string& headers = "");

/// A client frame (FIN set, masked) with `opcode` and `payload`; `declared` > payload size
/// announces more than is sent (a half frame).
std::string clientFrame(const std::string& payload, int opcode = 1, std::size_t declared = 0);

/// Takes one complete server frame off the front of `inbox`: its opcode, or -1 if incomplete.
int takeFrame(std::string& inbox, std::string& payload);

/// A WebSocket on a raw socket, past its 101; `inbox` holds what came after the response head.
struct RawWebSocket {
    RawSocket socket;
    std::string inbox;
};

/// Connects (SO_RCVBUF `receiveBuffer` when > 0) and upgrades `target`. Throws
/// std::runtime_error if the server does not answer 101.
RawWebSocket openRawWebSocket(int port, const std::string& target, int receiveBuffer = 0);

/// Milliseconds since `since`, as a double.
double millisSince(std::chrono::steady_clock::time_point since);

}  // namespace switchboard::test
