// The RESP2 client (see RespClient.h).
#include "bus/RespClient.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/NumberParser.h>

namespace switchboard {

namespace {
constexpr std::size_t kMaxReply = 64 * 1024 * 1024;
}

void RespClient::connect(const std::string& host, int port, Poco::Timespan timeout) {
    close();
    _socket = Poco::Net::StreamSocket();
    _socket.connect(Poco::Net::SocketAddress(host, static_cast<Poco::UInt16>(port)), timeout);
    _socket.setNoDelay(true);
    _socket.setSendTimeout(timeout);
    _connected = true;
}

void RespClient::close() {
    if (_connected) {
        try {
            _socket.close();
        } catch (const Poco::Exception&) {
        }
    }
    _connected = false;
    _in.clear();
    _out.clear();
}

void RespClient::append(const std::vector<std::string>& args) {
    _out += "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) {
        _out += "$" + std::to_string(a.size()) + "\r\n";
        _out += a;
        _out += "\r\n";
    }
}

void RespClient::flush() {
    std::size_t sent = 0;
    while (sent < _out.size()) {
        int n = _socket.sendBytes(_out.data() + sent, static_cast<int>(_out.size() - sent));
        if (n <= 0) {
            throw Poco::Net::NetException("redis: connection closed while sending");
        }
        sent += static_cast<std::size_t>(n);
    }
    _out.clear();
}

bool RespClient::line(std::size_t& pos, std::string& out) const {
    std::size_t end = _in.find("\r\n", pos);
    if (end == std::string::npos) {
        return false;
    }
    out.assign(_in, pos, end - pos);
    pos = end + 2;
    return true;
}

bool RespClient::parse(std::size_t& pos, RespReply& reply) const {
    if (pos >= _in.size()) {
        return false;
    }
    std::size_t p = pos + 1;
    std::string head;
    if (!line(p, head)) {
        return false;
    }
    reply = RespReply();
    reply.type = _in[pos];
    switch (reply.type) {
        case '+':
        case '-':
            reply.text = head;
            break;
        case ':':
            if (!Poco::NumberParser::tryParse64(head, reply.integer)) {
                throw Poco::ProtocolException("redis: bad integer reply '" + head + "'");
            }
            break;
        case '$': {
            Poco::Int64 len = 0;
            if (!Poco::NumberParser::tryParse64(head, len) || len < -1 ||
                static_cast<std::uint64_t>(len) > kMaxReply) {
                throw Poco::ProtocolException("redis: bad bulk length '" + head + "'");
            }
            if (len == -1) {
                reply.null = true;
                break;
            }
            if (_in.size() < p + static_cast<std::size_t>(len) + 2) {
                return false;
            }
            reply.text.assign(_in, p, static_cast<std::size_t>(len));
            p += static_cast<std::size_t>(len) + 2;
            break;
        }
        case '*': {
            Poco::Int64 count = 0;
            if (!Poco::NumberParser::tryParse64(head, count) || count < -1 || count > 1024 * 1024) {
                throw Poco::ProtocolException("redis: bad array length '" + head + "'");
            }
            if (count == -1) {
                reply.null = true;
                break;
            }
            for (Poco::Int64 i = 0; i < count; ++i) {
                RespReply item;
                if (!parse(p, item)) {
                    return false;
                }
                reply.items.push_back(std::move(item));
            }
            break;
        }
        default:
            throw Poco::ProtocolException("redis: unexpected reply type");
    }
    pos = p;
    return true;
}

bool RespClient::read(RespReply& reply, Poco::Timespan timeout) {
    auto deadline = Poco::Timestamp() + timeout.totalMicroseconds();
    for (;;) {
        std::size_t pos = 0;
        if (parse(pos, reply)) {
            _in.erase(0, pos);
            return true;
        }
        Poco::Timespan left = deadline - Poco::Timestamp();
        if (left <= 0 || !_socket.poll(left, Poco::Net::Socket::SELECT_READ)) {
            return false;
        }
        char buf[16384];
        int n = _socket.receiveBytes(buf, sizeof buf);
        if (n <= 0) {
            throw Poco::Net::ConnectionResetException("redis: connection closed by the server");
        }
        _in.append(buf, static_cast<std::size_t>(n));
        if (_in.size() > kMaxReply) {
            throw Poco::ProtocolException("redis: reply too large");
        }
    }
}

RespReply RespClient::command(const std::vector<std::string>& args, Poco::Timespan timeout) {
    append(args);
    flush();
    RespReply reply;
    if (!read(reply, timeout)) {
        throw Poco::TimeoutException("redis: no reply to " + args.front());
    }
    return reply;
}

}  // namespace switchboard
