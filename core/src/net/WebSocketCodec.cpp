// WebSocket framing on libwslay (see WebSocketCodec.h).
#include "net/WebSocketCodec.h"

#include <wslay/wslay.h>

#include "switchboard/Utf8.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace switchboard {

/// libwslay's callbacks: input from the buffer receive() was given, output into _out.
struct WebSocketCodecCallbacks {
    static WebSocketCodec& codec(void* user) { return *static_cast<WebSocketCodec*>(user); }

    static ssize_t recv(wslay_event_context_ptr ctx, std::uint8_t* buf, std::size_t len, int,
                        void* user) {
        WebSocketCodec& c = codec(user);
        if (c._in.empty()) {
            wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        std::size_t n = std::min(len, c._in.size());
        std::size_t at = c._fed - c._in.size();
        if (at < c._closeStart && at + n > c._closeStart && at + n < c._closeEnd) {
            n = c._closeStart - at;  // this read ends before the close frame, the next holds it
        }
        std::memcpy(buf, c._in.data(), n);
        c._in.remove_prefix(n);
        return static_cast<ssize_t>(n);
    }

    static ssize_t send(wslay_event_context_ptr, const std::uint8_t* data, std::size_t len, int,
                        void* user) {
        codec(user)._out.append(reinterpret_cast<const char*>(data), len);
        return static_cast<ssize_t>(len);
    }

    static void message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg,
                        void* user) {
        WebSocketCodec& c = codec(user);
        if (wslay_is_ctrl_frame(arg->opcode)) {
            return;  // pong and the close echo are queued by wslay itself
        }
        std::string_view data(reinterpret_cast<const char*>(arg->msg), arg->msg_length);
        bool binary = arg->opcode == WSLAY_BINARY_FRAME;
        if (!binary && !validUtf8(data)) {
            c._closeCode = 1007;
            wslay_event_queue_close(ctx, 1007,
                                    reinterpret_cast<const std::uint8_t*>("invalid UTF-8"), 13);
            wslay_event_shutdown_read(ctx);
            return;
        }
        if (c._messages != nullptr) {
            c._messages->push_back({binary, std::string(data)});
        }
    }
};

WebSocketCodec::WebSocketCodec(std::size_t maxMessage) : _maxMessage(maxMessage) {}

WebSocketCodec::~WebSocketCodec() {
    if (_ctx != nullptr) {
        wslay_event_context_free(_ctx);
    }
}

void WebSocketCodec::acquire() {
    if (_ctx != nullptr) {
        return;
    }
    wslay_event_callbacks callbacks{};
    callbacks.recv_callback = &WebSocketCodecCallbacks::recv;
    callbacks.send_callback = &WebSocketCodecCallbacks::send;
    callbacks.on_msg_recv_callback = &WebSocketCodecCallbacks::message;
    if (wslay_event_context_server_init(&_ctx, &callbacks, this) != 0) {
        throw std::bad_alloc();
    }
    wslay_event_config_set_max_recv_msg_length(_ctx, _maxMessage);
}

void WebSocketCodec::releaseIfIdle() {
    // Between messages a wslay context holds nothing a fresh one would not: give its ~8.5 KB
    // (two 4 KiB buffers) back, so that an idle connection costs only this object.
    if (_ctx == nullptr || midFrame() || _fragmented || _closeCode != 0 ||
        wslay_event_want_write(_ctx) || !wslay_event_want_read(_ctx) ||
        wslay_event_get_close_received(_ctx) || wslay_event_get_close_sent(_ctx)) {
        return;
    }
    wslay_event_context_free(_ctx);
    _ctx = nullptr;
}

bool WebSocketCodec::receive(std::string_view bytes, std::vector<Message>& messages) {
    acquire();
    if (!wslay_event_want_read(_ctx)) {
        return false;
    }
    std::string joined;
    if (!_held.empty()) {
        joined = _held;
        joined.append(bytes);
        bytes = joined;
        _held.clear();
    }
    std::size_t usable = track(bytes);
    _held.assign(bytes.substr(usable));
    bytes = bytes.substr(0, usable);
    _in = bytes;
    _fed = bytes.size();
    _messages = &messages;
    int rv = wslay_event_recv(_ctx);
    _messages = nullptr;
    _in = {};
    _fed = 0;
    _closeStart = _closeEnd = 0;
    if (rv != 0 && _closeCode == 0) {
        // A frame wslay cannot parse (a fragmented or oversized control frame, a bad length):
        // it queues a close without a status code, which RFC 6455 allows; we report 1002.
        _closeCode = 1002;
    }
    flush();
    if (!wslay_event_want_read(_ctx) && _closeCode == 0 && !wslay_event_get_close_received(_ctx)) {
        // wslay stopped reading on a protocol error or an oversized message and queued the
        // close itself: 1009 for size, 1002 otherwise.
        _closeCode = wslay_event_get_status_code_sent(_ctx);
    }
    bool more = rv == 0 && wslay_event_want_read(_ctx);
    releaseIfIdle();
    return more;
}

std::size_t WebSocketCodec::track(std::string_view bytes) {
    constexpr std::uint8_t kClose = 0x8;
    std::size_t i = 0;
    std::size_t frameStart = 0;
    while (i < bytes.size()) {
        if (_payloadLeft > 0) {
            std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(_payloadLeft, bytes.size() - i));
            _payloadLeft -= take;
            i += take;
            continue;
        }
        if (_headerLength == 0) {
            frameStart = i;
        }
        _header[_headerLength++] = static_cast<std::uint8_t>(bytes[i++]);
        if (_headerLength < 2) {
            continue;
        }
        std::uint8_t length7 = _header[1] & 0x7f;
        std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
        std::size_t need = 2 + extended + ((_header[1] & 0x80) != 0 ? 4 : 0);
        if (_headerLength < need) {
            continue;
        }
        std::uint64_t length = length7;
        if (extended > 0) {
            length = 0;
            for (std::size_t k = 0; k < extended; ++k) {
                length = (length << 8) | _header[2 + k];
            }
        }
        _payloadLeft = length;
        std::uint8_t opcode = _header[0] & 0x0f;
        bool fin = (_header[0] & 0x80) != 0;
        if (opcode == 0x1 || opcode == 0x2) {
            _fragmented = !fin;  // a message continued in further frames
        } else if (opcode == 0x0 && fin) {
            _fragmented = false;
        }
        _headerLength = 0;
        if (opcode == kClose && length <= 125 && _closeEnd == 0) {
            if (length > bytes.size() - i) {
                _payloadLeft = 0;  // held back whole: tracked again when the rest arrives
                return frameStart;
            }
            _closeStart = frameStart;
            _closeEnd = i + static_cast<std::size_t>(length);
        }
    }
    if (_headerLength > 0 && (_header[0] & 0x0f) == kClose) {
        _headerLength = 0;  // a close frame's header cut short: held back too
        return frameStart;
    }
    return bytes.size();
}

namespace {

/// wslay's frame layer for whole unfragmented frames from an idle codec: one context per thread,
/// back in its initial state after every frame (its callback takes every byte), so sending to
/// an idle connection allocates nothing and keeps nothing.
class FrameWriter {
public:
    FrameWriter() {
        wslay_frame_callbacks callbacks{&FrameWriter::write, nullptr, nullptr};
        if (wslay_frame_context_init(&_ctx, &callbacks, this) != 0) {
            throw std::bad_alloc();
        }
    }
    ~FrameWriter() { wslay_frame_context_free(_ctx); }
    FrameWriter(const FrameWriter&) = delete;
    FrameWriter& operator=(const FrameWriter&) = delete;

    /// Appends one unmasked frame with `opcode` and `payload` to `out`.
    bool frame(std::uint8_t opcode, std::string_view payload, std::string& out) {
        _out = &out;
        wslay_frame_iocb iocb{};
        iocb.fin = 1;
        iocb.opcode = opcode;
        iocb.payload_length = payload.size();
        std::size_t sent = 0;
        do {
            iocb.data = reinterpret_cast<const std::uint8_t*>(payload.data()) + sent;
            iocb.data_length = payload.size() - sent;
            ssize_t n = wslay_frame_send(_ctx, &iocb);
            if (n < 0) {
                _out = nullptr;
                return false;
            }
            sent += static_cast<std::size_t>(n);
        } while (sent < payload.size());
        _out = nullptr;
        return true;
    }

private:
    static ssize_t write(const std::uint8_t* data, std::size_t len, int, void* user) {
        static_cast<FrameWriter*>(user)->_out->append(reinterpret_cast<const char*>(data), len);
        return static_cast<ssize_t>(len);
    }
    wslay_frame_context* _ctx = nullptr;
    std::string* _out = nullptr;
};

}  // namespace

bool WebSocketCodec::queue(std::uint8_t opcode, std::string_view data) {
    if (_ctx == nullptr && _closeCode == 0) {
        thread_local FrameWriter writer;
        return writer.frame(opcode, data, _out);
    }
    acquire();
    wslay_event_msg msg{opcode, reinterpret_cast<const std::uint8_t*>(data.data()), data.size()};
    if (wslay_event_queue_msg(_ctx, &msg) != 0) {
        return false;
    }
    flush();
    releaseIfIdle();
    return true;
}

bool WebSocketCodec::sendText(std::string_view text) {
    return queue(WSLAY_TEXT_FRAME, text);
}

bool WebSocketCodec::sendBinary(std::string_view data) {
    return queue(WSLAY_BINARY_FRAME, data);
}

bool WebSocketCodec::ping() {
    return !closing() && queue(WSLAY_PING, {});
}

void WebSocketCodec::close(std::uint16_t code, std::string_view reason) {
    if (closing()) {
        return;
    }
    reason = reason.substr(0, 123);  // a close payload holds at most 125 bytes with the code
    acquire();
    _closeCode = code;
    wslay_event_queue_close(_ctx, code, reinterpret_cast<const std::uint8_t*>(reason.data()),
                            reason.size());
    wslay_event_shutdown_read(_ctx);
    flush();
}

void WebSocketCodec::flush() {
    while (wslay_event_want_write(_ctx)) {
        if (wslay_event_send(_ctx) != 0) {
            break;
        }
    }
}

std::string WebSocketCodec::takeOutput() {
    std::string out;
    out.swap(_out);
    return out;
}

bool WebSocketCodec::closing() const {
    return _closeCode != 0 || (_ctx != nullptr && (wslay_event_get_close_received(_ctx) ||
                                                   wslay_event_get_close_sent(_ctx)));
}

std::uint16_t WebSocketCodec::peerCloseCode() const {
    if (_ctx == nullptr || !wslay_event_get_close_received(_ctx)) {
        return 0;
    }
    std::uint16_t code = wslay_event_get_status_code_received(_ctx);
    return code == WSLAY_CODE_NO_STATUS_RCVD ? 0 : code;
}

}  // namespace switchboard
