// The chat protocol's framing (seed 003, DESIGN §8): a 3-byte header — version in the top two
// bits of byte 0 (01), type in its low six bits, payload length big-endian in bytes 1-2 — then
// that many payload bytes (UTF-8 JSON). Knows nothing of sockets: bytes in, frames out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::messaging {

/// The frame types, in the seed's table order (the number is the wire value).
enum class FrameType : std::uint8_t {
    ACK = 0,
    ERR = 1,
    DIS = 2,
    MSG = 3,
    LOG = 4,
    SES = 5,
    REG = 6,
    LIS = 7,
    FRP = 8,
    HIS = 9,
    UPD = 10,
    CHP = 11,
    CHM = 12,
    DEL = 13,
};

/// One decoded frame. `version` and `type` are as read (they may be unsupported: the decoder
/// only splits the byte stream; the protocol decides what a bad version or type means).
struct Frame {
    int version = 1;
    int type = 0;
    std::string payload;
};

class FrameCodec {
public:
    static constexpr int kVersion = 1;
    static constexpr std::size_t kHeaderSize = 3;
    static constexpr std::size_t kMaxPayload = 65535;
    static constexpr int kTypeCount = 14;

    /// The header and payload of one frame. Throws std::length_error past kMaxPayload.
    static std::string encode(FrameType type, std::string_view payload);
    /// "ACK", "ERR", ... or "type N" for numbers outside the table.
    static std::string typeName(int type);
    static bool knownType(int type) { return type >= 0 && type < kTypeCount; }

    /// Appends received bytes (any split).
    void feed(std::string_view bytes) { _buffer.append(bytes.data(), bytes.size()); }
    /// Takes the next complete frame out of the buffer; false if none is complete yet.
    bool next(Frame& frame);
    /// True while part of a frame (header or payload) is buffered.
    bool partial() const { return _offset < _buffer.size(); }
    /// Bytes buffered and not yet returned as frames.
    std::size_t buffered() const { return _buffer.size() - _offset; }

private:
    std::string _buffer;
    std::size_t _offset = 0;  ///< start of the first frame not yet returned
};

}  // namespace switchboard::messaging
