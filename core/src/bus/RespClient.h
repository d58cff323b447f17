// A minimal Redis (RESP2) client over one TCP connection: enough for PUBLISH, SUBSCRIBE and
// AUTH. Its own buffering, so a read that times out never loses a half-received reply (POCO's
// Redis client cannot give that: POCO-NOTES.md §5). Not thread-safe: one thread per client.
#pragma once

#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard {

struct RespReply {
    char type = 0;  ///< '+' status, '-' error, ':' integer, '$' bulk, '*' array
    bool null = false;
    std::string text;  ///< status, error or bulk text
    std::int64_t integer = 0;
    std::vector<RespReply> items;
};

class RespClient {
public:
    /// Connects within `timeout`. Throws Poco::Exception.
    void connect(const std::string& host, int port, Poco::Timespan timeout);
    void close();
    bool connected() const { return _connected; }
    /// Appends one command to the output buffer (sent by flush()).
    void append(const std::vector<std::string>& args);
    /// Writes the output buffer. Throws Poco::Exception.
    void flush();
    /// Reads one complete reply, waiting at most `timeout` for data. False if none arrived in
    /// time (a partial reply stays buffered). Throws Poco::Exception on EOF, a socket error or
    /// a protocol error.
    bool read(RespReply& reply, Poco::Timespan timeout);
    /// append + flush + read with `timeout`; throws Poco::TimeoutException if no reply.
    RespReply command(const std::vector<std::string>& args, Poco::Timespan timeout);

private:
    /// Parses one reply at _in[pos...]; false if incomplete.
    bool parse(std::size_t& pos, RespReply& reply) const;
    bool line(std::size_t& pos, std::string& out) const;

    Poco::Net::StreamSocket _socket;
    bool _connected = false;
    std::string _in;
    std::string _out;
};

}  // namespace switchboard
