// RFC 6455 on bytes, not sockets: the server side of a WebSocket connection, decoding frames
// from whatever bytes arrived (any split) and encoding what is sent into an output buffer the
// connection writes when its socket is writable. Debian's libwslay does the framing (masking,
// fragmentation, control frames between fragments, close handshake); this class adds the
// message limit, UTF-8 checks of text messages and one simple interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct wslay_event_context;

namespace switchboard {

class WebSocketCodec {
public:
    struct Message {
        bool binary = false;
        std::string data;
    };

    /// Messages over `maxMessage` bytes end the connection with close code 1009.
    explicit WebSocketCodec(std::size_t maxMessage);
    ~WebSocketCodec();
    WebSocketCodec(const WebSocketCodec&) = delete;
    WebSocketCodec& operator=(const WebSocketCodec&) = delete;

    /// Decodes `bytes`; whole text and binary messages are appended to `messages` in order.
    /// Pings are answered and a close is echoed into the output. Returns false once no more
    /// input will be read (a close arrived, or the peer broke the protocol and a close with
    /// 1002/1007/1009 was queued; for a frame that cannot even be parsed, such as a fragmented
    /// or oversized control frame, the close carries no code and closeCode() says 1002): write
    /// the output, then close the socket.
    bool receive(std::string_view bytes, std::vector<Message>& messages);

    /// Queues a text message (`text` must be UTF-8) or a binary one. False once closing.
    bool sendText(std::string_view text);
    bool sendBinary(std::string_view data);
    /// Queues a ping with an empty payload (the peer's pong counts as a frame). False once
    /// closing.
    bool ping();
    /// Queues a close frame with `code` and `reason` (cut to 123 bytes); nothing is sent after
    /// it. Idempotent.
    void close(std::uint16_t code, std::string_view reason);

    /// Moves the encoded bytes waiting to be written into the caller's hands.
    std::string takeOutput();
    /// Bytes waiting in the output.
    std::size_t pendingOutput() const { return _out.size(); }
    /// True while the input ends inside a frame (a header or payload only partly received).
    bool midFrame() const { return _headerLength > 0 || _payloadLeft > 0 || !_held.empty(); }

    /// True once a close frame was received or queued.
    bool closing() const;
    /// The code of the close received from the peer (0 if none, or if it carried no code).
    std::uint16_t peerCloseCode() const;
    /// The code this side closed with (0 if it has not).
    std::uint16_t closeCode() const { return _closeCode; }

private:
    friend struct WebSocketCodecCallbacks;
    bool queue(std::uint8_t opcode, std::string_view data);
    /// Makes the wslay context if there is none (an idle codec holds none).
    void acquire();
    /// Frees the wslay context when nothing is in progress: no partial frame or fragmented
    /// message, no output waiting, no close begun.
    void releaseIfIdle();
    void flush();
    /// Follows frame boundaries in `bytes` (for midFrame()) and returns how many of them wslay
    /// may have now: all but an unfinished close frame at the end, which is held back until it
    /// is whole. Notes where a whole close frame lies in `_close` (for the recv callback).
    std::size_t track(std::string_view bytes);

    const std::size_t _maxMessage;
    wslay_event_context* _ctx = nullptr;  ///< only while something is in progress
    std::string_view _in;                 ///< the bytes receive() is decoding
    /// wslay 1.1.1 checks a close reason's UTF-8 skipping the first two bytes of each piece of
    /// the payload it reads instead of the payload's: a close frame must reach it in one piece.
    /// The start of a close frame not yet whole waits here; `_close` is where a whole one lies
    /// in the bytes receive() is decoding ({0, 0}: none), so that no read ends inside it.
    std::string _held;
    std::size_t _fed = 0;  ///< size of the bytes receive() is decoding
    std::size_t _closeStart = 0;
    std::size_t _closeEnd = 0;
    std::string _out;
    std::vector<Message>* _messages = nullptr;
    std::uint16_t _closeCode = 0;
    std::uint8_t _header[14] = {};
    std::size_t _headerLength = 0;
    std::uint64_t _payloadLeft = 0;
    bool _fragmented = false;  ///< a data message's first frame arrived, its last not yet
};

}  // namespace switchboard
