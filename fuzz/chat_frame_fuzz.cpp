// The chat protocol's framing and server frames (plugins/messaging: FrameCodec, ChatFrames,
// Directory's LIS chunks). The input is a script; its first byte picks a part:
// - reader: client bytes fed to a FrameCodec in pieces of fuzzed sizes give the same frames as
//   the bytes in one piece; every frame's fields are what its header said, a frame of the
//   current version and a known type encodes back to the very bytes it came from, and the bytes
//   left over are a partial frame (buffered() agrees);
// - history: messages with fuzzed sender, receiver and text (UTF-8): every HIS frame fits 64 KiB,
//   parses as {"history":[...]} with "more": true on all but the last, and the entries are the
//   messages, in order, that fit a frame;
// - list: accounts with fuzzed logins: the LIS frames from any offset, within any budget, fit
//   64 KiB, parse, and their users are the directory's logins from that offset on, in order,
//   with "next" naming where a cut list goes on.
// The frame limit history and list work to comes from the input's last byte: the plugin's
// 64 KiB one time in 32, otherwise 192 to 2,112 bytes (ChatFrames::history and Directory take
// the limit as a parameter). The splitting code is the same either way; small limits let it run
// thousands of times a second instead of building and re-parsing 64 KiB strings each time.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "FuzzCheck.h"
#include "messaging/ChatFrames.h"
#include "messaging/Directory.h"
#include "messaging/FrameCodec.h"
#include "switchboard/Utf8.h"

using namespace switchboard::messaging;

namespace {

/// Reads the script: bytes, sizes and strings taken from the front of the input.
class Script {
public:
    Script(const std::uint8_t* data, std::size_t size) : _data(data), _size(size) {}
    bool done() const { return _at >= _size; }
    std::uint8_t byte() { return done() ? 0 : _data[_at++]; }
    std::size_t number(std::size_t max) {
        std::size_t n = static_cast<std::size_t>(byte()) << 8 | byte();
        return max == 0 ? 0 : n % (max + 1);
    }
    /// Up to `max` bytes (a fuzzed count; long strings come from repeating them).
    std::string text(std::size_t max) {
        std::size_t n = number(max);
        std::size_t repeat = 1 + byte() % 64;
        std::string piece;
        for (std::size_t i = 0; i < n && !done(); ++i) {
            piece += static_cast<char>(byte());
        }
        std::string out;
        for (std::size_t i = 0; i < repeat && out.size() < max; ++i) {
            out += piece;
        }
        return out.substr(0, max);
    }
    std::string_view rest() const {
        return done() ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(_data + _at), _size - _at);
    }

private:
    const std::uint8_t* _data;
    std::size_t _size;
    std::size_t _at = 0;
};

/// `text` with every invalid UTF-8 sequence replaced (the store only holds valid text).
std::string utf8(const std::string& text) {
    if (switchboard::validUtf8(text)) {
        return text;
    }
    std::string out;
    for (char c : text) {
        out += (static_cast<unsigned char>(c) < 0x80) ? c : '?';
    }
    return out;
}

/// A JSON string's bytes, NUL included.
std::string str(const rapidjson::Value& v) {
    FUZZ_CHECK(v.IsString());
    return std::string(v.GetString(), v.GetStringLength());
}

/// The frame limit for history and list (see the top of the file).
std::size_t limitOf(const std::uint8_t* data, std::size_t size) {
    std::uint8_t b = size == 0 ? 0 : data[size - 1];
    return b % 32 == 0 ? FrameCodec::kMaxPayload : 128 + static_cast<std::size_t>(b % 32) * 64;
}

/// The payload of an encoded frame of `type` within `limit`, checked against its header.
rapidjson::Document payloadOf(const std::string& frame, FrameType type, std::size_t limit) {
    FUZZ_CHECK(frame.size() >= FrameCodec::kHeaderSize);
    FUZZ_CHECK(frame.size() <= FrameCodec::kHeaderSize + limit);
    auto b0 = static_cast<std::uint8_t>(frame[0]);
    FUZZ_CHECK(b0 >> 6 == FrameCodec::kVersion);
    FUZZ_CHECK((b0 & 0x3f) == static_cast<int>(type));
    std::size_t length = static_cast<std::size_t>(static_cast<std::uint8_t>(frame[1])) << 8 |
                         static_cast<std::uint8_t>(frame[2]);
    FUZZ_CHECK(length == frame.size() - FrameCodec::kHeaderSize);
    std::string payload = frame.substr(FrameCodec::kHeaderSize);
    FUZZ_CHECK(switchboard::validUtf8(payload));
    rapidjson::Document d;
    d.Parse(payload.c_str(), payload.size());
    FUZZ_CHECK(!d.HasParseError() && d.IsObject());
    return d;
}

void reader(Script& s) {
    std::vector<std::size_t> pieces;
    for (int i = 0; i < 16; ++i) {
        pieces.push_back(1 + s.byte() % 32);
    }
    std::string_view bytes = s.rest();
    FrameCodec whole;
    whole.feed(bytes);
    std::vector<Frame> expected;
    Frame f;
    std::size_t consumed = 0;
    while (whole.next(f)) {
        FUZZ_CHECK(consumed + FrameCodec::kHeaderSize + f.payload.size() <= bytes.size());
        auto b0 = static_cast<std::uint8_t>(bytes[consumed]);
        FUZZ_CHECK(f.version == b0 >> 6 && f.type == (b0 & 0x3f));
        std::string_view original =
            bytes.substr(consumed, FrameCodec::kHeaderSize + f.payload.size());
        FUZZ_CHECK(original.substr(FrameCodec::kHeaderSize) == f.payload);
        if (f.version == FrameCodec::kVersion && FrameCodec::knownType(f.type)) {
            FUZZ_CHECK(FrameCodec::encode(static_cast<FrameType>(f.type), f.payload) == original);
        }
        FUZZ_CHECK(!FrameCodec::typeName(f.type).empty());
        consumed += original.size();
        expected.push_back(f);
    }
    FUZZ_CHECK(whole.buffered() == bytes.size() - consumed);
    FUZZ_CHECK(whole.partial() == (consumed < bytes.size()));
    if (consumed < bytes.size()) {  // what is left is less than one frame
        std::size_t left = bytes.size() - consumed;
        if (left >= FrameCodec::kHeaderSize) {
            std::size_t length =
                static_cast<std::size_t>(static_cast<std::uint8_t>(bytes[consumed + 1])) << 8 |
                static_cast<std::uint8_t>(bytes[consumed + 2]);
            FUZZ_CHECK(left < FrameCodec::kHeaderSize + length);
        }
    }
    FrameCodec split;
    std::size_t at = 0, next = 0, k = 0;
    while (at < bytes.size()) {
        std::size_t n = std::min(pieces[k++ % pieces.size()], bytes.size() - at);
        split.feed(bytes.substr(at, n));
        at += n;
        while (split.next(f)) {
            FUZZ_CHECK(next < expected.size());
            FUZZ_CHECK(f.version == expected[next].version && f.type == expected[next].type &&
                       f.payload == expected[next].payload);
            ++next;
        }
    }
    FUZZ_CHECK(next == expected.size());
    FUZZ_CHECK(split.buffered() == whole.buffered());
}

void history(Script& s, std::size_t limit) {
    std::vector<StoredMessage> messages;
    while (!s.done() && messages.size() < 8) {
        StoredMessage m;
        m.id = static_cast<std::int64_t>(messages.size()) + 1;
        m.sender = utf8(s.text(64));
        m.reciever = utf8(s.text(64));
        m.msg = utf8(s.text(limit + limit / 16 + 256));  // past the limit, sender and ts added
        m.ts = static_cast<double>(s.number(65535)) / 7.0;
        m.body = ChatFrames::delivered(m);
        rapidjson::Document d;
        d.Parse(m.body.c_str(), m.body.size());
        FUZZ_CHECK(!d.HasParseError() && d.IsObject());
        FUZZ_CHECK(str(d["sender"]) == m.sender && str(d["reciever"]) == m.reciever &&
                   str(d["msg"]) == m.msg && d["ts"].IsNumber());
        // RapidJSON's default parse may move a double by a few ulps (docs/decisions.md, "Fuzzing").
        FUZZ_CHECK(std::fabs(d["ts"].GetDouble() - m.ts) <= 1e-15 * std::fabs(m.ts));
        messages.push_back(std::move(m));
    }
    std::vector<std::string> frames = ChatFrames::history(messages, limit);
    FUZZ_CHECK(!frames.empty());
    std::vector<const StoredMessage*> fitting;
    for (const auto& m : messages) {
        if (m.body.size() + ChatFrames::kEnvelope <= limit) {
            fitting.push_back(&m);
        }
    }
    std::size_t next = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        rapidjson::Document d = payloadOf(frames[i], FrameType::HIS, limit);
        FUZZ_CHECK(d.HasMember("history") && d["history"].IsArray());
        bool last = i + 1 == frames.size();
        FUZZ_CHECK(last ? !d.HasMember("more") : (d.HasMember("more") && d["more"].IsTrue()));
        for (const auto& entry : d["history"].GetArray()) {
            FUZZ_CHECK(next < fitting.size());
            FUZZ_CHECK(entry.IsObject() && str(entry["msg"]) == fitting[next]->msg);
            ++next;
        }
        FUZZ_CHECK(last || d["history"].Size() > 0);
    }
    FUZZ_CHECK(next == fitting.size());
}

void list(Script& s, std::size_t limit) {
    Directory directory(limit - ChatFrames::kEnvelope);
    // A login quoted (at most 6 bytes a byte) always fits a chunk, as the plugin's 64-byte
    // usernames fit its 64 KiB chunks.
    std::size_t longest = std::min<std::size_t>(300, (directory.maxChunk() - 2) / 6);
    std::vector<std::string> logins;  // in account order
    // 500 logins at the 64 KiB limit; 100 already fill several small chunks.
    std::size_t count = 1 + s.number(limit == FrameCodec::kMaxPayload ? 500 : 100);
    for (std::size_t i = 0; i < count && !s.done(); ++i) {
        std::string name = utf8(s.text(longest));
        if (name.empty() || directory.find(name)) {
            continue;
        }
        directory.put(static_cast<std::int64_t>(i) + 1, name, "");
        logins.push_back(name);
    }
    FUZZ_CHECK(directory.size() == logins.size());
    std::size_t offset = s.number(logins.size() + 2);
    std::size_t budget = 1 + s.number(65535) * 8 * limit / FrameCodec::kMaxPayload;
    auto chunks = directory.listChunks();
    std::vector<std::string> frames = ChatFrames::list(chunks, offset, budget);
    FUZZ_CHECK(!frames.empty());
    // The list starts at the chunk holding `offset`: users from that chunk's first index on.
    std::size_t next = 0;
    for (const auto& c : *chunks) {
        FUZZ_CHECK(c.names.size() <= directory.maxChunk());
        if (c.first <= offset) {
            next = c.first;
        }
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
        rapidjson::Document d = payloadOf(frames[i], FrameType::LIS, limit);
        FUZZ_CHECK(d.HasMember("users") && d["users"].IsArray());
        for (const auto& user : d["users"].GetArray()) {
            FUZZ_CHECK(next < logins.size() && str(user) == logins[next]);
            ++next;
        }
        bool last = i + 1 == frames.size();
        if (!last) {
            FUZZ_CHECK(d.HasMember("more") && d["more"].IsTrue() && !d.HasMember("next"));
        } else if (d.HasMember("next")) {
            FUZZ_CHECK(d["next"].IsUint64() && d["next"].GetUint64() == next &&
                       next < logins.size());
        } else {
            FUZZ_CHECK(!d.HasMember("more") && next == logins.size());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Script s(data, size);
    std::size_t limit = limitOf(data, size);
    switch (s.byte() % 3) {
        case 0:
            reader(s);
            break;
        case 1:
            history(s, limit);
            break;
        default:
            list(s, limit);
            break;
    }
    return 0;
}
