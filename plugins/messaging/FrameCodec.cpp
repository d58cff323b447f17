// The chat protocol's framing (see FrameCodec.h).
#include "FrameCodec.h"

#include <stdexcept>

namespace switchboard::messaging {

namespace {
const char* const kNames[FrameCodec::kTypeCount] = {"ACK", "ERR", "DIS", "MSG", "LOG",
                                                    "SES", "REG", "LIS", "FRP", "HIS",
                                                    "UPD", "CHP", "CHM", "DEL"};
}  // namespace

std::string FrameCodec::encode(FrameType type, std::string_view payload) {
    if (payload.size() > kMaxPayload) {
        throw std::length_error("chat frame payload of " + std::to_string(payload.size()) +
                                " bytes (limit 65535)");
    }
    std::string out;
    out.reserve(kHeaderSize + payload.size());
    out += static_cast<char>((kVersion << 6) | static_cast<int>(type));
    out += static_cast<char>((payload.size() >> 8) & 0xff);
    out += static_cast<char>(payload.size() & 0xff);
    out.append(payload.data(), payload.size());
    return out;
}

std::string FrameCodec::typeName(int type) {
    return knownType(type) ? kNames[type] : "type " + std::to_string(type);
}

bool FrameCodec::next(Frame& frame) {
    std::size_t available = _buffer.size() - _offset;
    if (available < kHeaderSize) {
        if (available == 0 && !_buffer.empty()) {
            _buffer.clear();
            _offset = 0;
        }
        return false;
    }
    const auto* head = reinterpret_cast<const unsigned char*>(_buffer.data() + _offset);
    std::size_t length = (static_cast<std::size_t>(head[1]) << 8) | head[2];
    if (available < kHeaderSize + length) {
        if (_offset > 0) {  // keep the partial frame at the front: the buffer stays small
            _buffer.erase(0, _offset);
            _offset = 0;
        }
        return false;
    }
    frame.version = head[0] >> 6;
    frame.type = head[0] & 0x3f;
    frame.payload.assign(_buffer, _offset + kHeaderSize, length);
    _offset += kHeaderSize + length;
    if (_offset == _buffer.size()) {
        _buffer.clear();
        _offset = 0;
    }
    return true;
}

}  // namespace switchboard::messaging
