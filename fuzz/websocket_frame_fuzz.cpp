// Server-side WebSocket framing (net/WebSocketCodec on wslay). The input is a script: bytes from
// the client in pieces of fuzzed sizes, interleaved with the server's own sends, pings and
// closes. Checked: every byte the codec writes is a well-formed unmasked server frame and
// nothing follows a close frame; received text is UTF-8 and no message passes the limit; and
// the same client bytes received all at once give the same messages and close codes (the codec
// frees its wslay context between messages, which must lose nothing).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "FuzzCheck.h"
#include "net/WebSocketCodec.h"
#include "switchboard/Utf8.h"

using switchboard::WebSocketCodec;

namespace {

constexpr std::size_t kMaxMessage = 512;

/// Checks that `out` is a sequence of whole server frames; `closed` carries over between calls.
void checkOutput(const std::string& out, bool& closed) {
    std::size_t i = 0;
    while (i < out.size()) {
        FUZZ_CHECK(!closed);  // nothing after a close frame
        FUZZ_CHECK(out.size() - i >= 2);
        auto b0 = static_cast<std::uint8_t>(out[i]);
        auto b1 = static_cast<std::uint8_t>(out[i + 1]);
        bool fin = (b0 & 0x80) != 0;
        std::uint8_t opcode = b0 & 0x0f;
        FUZZ_CHECK((b0 & 0x70) == 0);  // no RSV bits: no extension was negotiated
        FUZZ_CHECK((b1 & 0x80) == 0);  // a server never masks
        FUZZ_CHECK(opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA));
        std::uint64_t length = b1 & 0x7f;
        std::size_t header = 2;
        if (length == 126 || length == 127) {
            std::size_t extended = length == 126 ? 2 : 8;
            FUZZ_CHECK(out.size() - i >= 2 + extended);
            length = 0;
            for (std::size_t k = 0; k < extended; ++k) {
                length = (length << 8) | static_cast<std::uint8_t>(out[i + 2 + k]);
            }
            header += extended;
            FUZZ_CHECK(length >= (extended == 2 ? 126u : 65536u));  // minimal length encoding
        }
        FUZZ_CHECK(out.size() - i - header >= length);
        std::string_view payload(out.data() + i + header, static_cast<std::size_t>(length));
        if (opcode >= 0x8) {
            FUZZ_CHECK(fin);
            FUZZ_CHECK(length <= 125);
        }
        if (opcode == 0x8) {
            FUZZ_CHECK(length != 1);
            if (length >= 2) {
                unsigned code = (static_cast<std::uint8_t>(payload[0]) << 8) |
                                static_cast<std::uint8_t>(payload[1]);
                FUZZ_CHECK(code >= 1000 && code < 5000 && code != 1004 && code != 1005 &&
                           code != 1006 && code != 1015);
                FUZZ_CHECK(switchboard::validUtf8(payload.substr(2)));
            }
            closed = true;
        }
        i += header + static_cast<std::size_t>(length);
    }
}

void checkMessages(const std::vector<WebSocketCodec::Message>& messages) {
    for (const auto& m : messages) {
        FUZZ_CHECK(m.data.size() <= kMaxMessage);
        FUZZ_CHECK(m.binary || switchboard::validUtf8(m.data));
    }
}

/// True if the client bytes hold a close frame whose payload is longer than its status code.
/// wslay 1.1.1 checks a close reason's UTF-8 skipping the first 2 bytes of every piece of the
/// payload it reads, not of the payload (docs/security.md, "Fuzzing"): whether a reason is
/// refused with 1007 then depends on how it was split, so the close codes are not compared.
bool closeWithReason(const std::string& in) {
    std::size_t i = 0;
    while (in.size() - i >= 2) {
        auto b0 = static_cast<std::uint8_t>(in[i]);
        auto b1 = static_cast<std::uint8_t>(in[i + 1]);
        std::uint64_t length = b1 & 0x7f;
        std::size_t header = 2 + ((b1 & 0x80) != 0 ? 4 : 0);
        if (length >= 126) {
            std::size_t extended = length == 126 ? 2 : 8;
            if (in.size() - i < 2 + extended) {
                return false;
            }
            length = 0;
            for (std::size_t k = 0; k < extended; ++k) {
                length = (length << 8) | static_cast<std::uint8_t>(in[i + 2 + k]);
            }
            header += extended;
        }
        if ((b0 & 0x0f) == 0x8 && length > 2) {
            return true;
        }
        if (in.size() - i < header || in.size() - i - header < length) {
            return false;
        }
        i += header + static_cast<std::size_t>(length);
    }
    return false;
}

bool sameMessages(const std::vector<WebSocketCodec::Message>& a,
                  const std::vector<WebSocketCodec::Message>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].binary != b[i].binary || a[i].data != b[i].data) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Script: an op byte, then (for receives and sends) a length byte and that many bytes.
    // Op & 7: 0-3 receive, 4 send text, 5 send binary, 6 ping, 7 close.
    WebSocketCodec codec(kMaxMessage);
    std::vector<WebSocketCodec::Message> messages;
    std::string received;  // every client byte the codec was given
    std::string output;
    bool closed = false;
    bool weClosed = false;
    bool reading = true;
    std::size_t at = 0;
    while (at < size && reading) {
        std::uint8_t op = data[at++] & 7;
        std::size_t length = 0;
        if (op <= 5 && at < size) {
            std::size_t wanted = data[at++];
            length = std::min(wanted, size - at);
        }
        std::string_view bytes(reinterpret_cast<const char*>(data) + at, length);
        at += length;
        switch (op) {
            case 4:
                if (switchboard::validUtf8(bytes)) {
                    codec.sendText(bytes);
                }
                break;
            case 5:
                codec.sendBinary(bytes);
                break;
            case 6:
                codec.ping();
                break;
            case 7:
                weClosed = weClosed || !codec.closing();
                codec.close(static_cast<std::uint16_t>(1000 + length % 14), "bye");
                break;
            default:
                received.append(bytes);
                reading = codec.receive(bytes, messages);
                break;
        }
        std::string out = codec.takeOutput();
        checkOutput(out, closed);
        output += out;
    }
    checkMessages(messages);
    if (!reading) {
        FUZZ_CHECK(codec.closing() || codec.closeCode() != 0);
    }

    // The same client bytes in one piece, with no sends in between.
    if (!weClosed) {
        WebSocketCodec whole(kMaxMessage);
        std::vector<WebSocketCodec::Message> wholeMessages;
        if (!received.empty()) {
            whole.receive(received, wholeMessages);
        }
        bool wholeClosed = false;
        checkOutput(whole.takeOutput(), wholeClosed);
        if (!sameMessages(messages, wholeMessages) || codec.closeCode() != whole.closeCode()) {
            std::fprintf(stderr, "pieces: %zu messages, close %u, peer close %u\n", messages.size(),
                         codec.closeCode(), codec.peerCloseCode());
            std::fprintf(stderr, "whole: %zu messages, close %u, peer close %u\n",
                         wholeMessages.size(), whole.closeCode(), whole.peerCloseCode());
        }
        FUZZ_CHECK(sameMessages(messages, wholeMessages));
        if (!closeWithReason(received)) {
            FUZZ_CHECK(codec.closeCode() == whole.closeCode());
            FUZZ_CHECK(codec.peerCloseCode() == whole.peerCloseCode());
        }
    }
    return 0;
}
