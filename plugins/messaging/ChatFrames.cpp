// Server frames (see ChatFrames.h).
#include "ChatFrames.h"

#include "switchboard/Json.h"

namespace switchboard::messaging {

std::string ChatFrames::reply(FrameType type, std::string_view text) {
    if (text.empty()) {
        return FrameCodec::encode(type, "{}");
    }
    std::string payload = "{\"msg\":" + json::quote(text) + "}";
    if (payload.size() > FrameCodec::kMaxPayload) {
        payload = "{\"msg\":\"(message cut)\"}";
    }
    return FrameCodec::encode(type, payload);
}

std::string ChatFrames::errRetry(std::string_view text, long long seconds) {
    return FrameCodec::encode(
        FrameType::ERR,
        "{\"msg\":" + json::quote(text) + ",\"retry_after\":" + std::to_string(seconds) + "}");
}

std::string ChatFrames::delivered(const StoredMessage& m) {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::writeString(w, "sender", m.sender);
    json::writeString(w, "reciever", m.reciever);
    json::writeString(w, "msg", m.msg);
    w.Key("ts");
    w.Double(m.ts);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::vector<std::string> ChatFrames::history(const std::vector<StoredMessage>& messages,
                                             std::size_t maxPayload) {
    static const std::string kOpen = "{\"history\":[";
    static const std::string kMore = "],\"more\":true}";
    std::vector<std::string> out;
    std::string current = kOpen;
    bool empty = true;
    for (const auto& m : messages) {
        const std::string& entry = m.body;
        if (!empty && current.size() + 1 + entry.size() + kMore.size() > maxPayload) {
            out.push_back(FrameCodec::encode(FrameType::HIS, current + kMore));
            current = kOpen;
            empty = true;
        }
        if (entry.size() + kEnvelope > maxPayload) {
            continue;  // cannot happen: longer messages are refused ("message too long")
        }
        current += empty ? "" : ",";
        current += entry;
        empty = false;
    }
    out.push_back(FrameCodec::encode(FrameType::HIS, current + "]}"));
    return out;
}

std::vector<std::string> ChatFrames::list(const Directory::ListChunks& chunks, std::size_t offset,
                                          std::size_t budget) {
    const auto& all = *chunks;
    std::size_t start = 0;  // the chunk holding `offset` (its start, if the list moved)
    while (start + 1 < all.size() && all[start + 1].first <= offset) {
        ++start;
    }
    std::vector<std::string> out;
    std::size_t bytes = 0;
    for (std::size_t i = start; i < all.size(); ++i) {
        bool last = i + 1 == all.size();
        bool full = !last && bytes + all[i].names.size() + all[i + 1].names.size() > budget;
        std::string payload = "{\"users\":[" + all[i].names + "]";
        if (full) {
            payload += ",\"next\":" + std::to_string(all[i + 1].first);
        } else if (!last) {
            payload += ",\"more\":true";
        }
        payload += "}";
        bytes += payload.size();
        out.push_back(FrameCodec::encode(FrameType::LIS, payload));
        if (full) {
            break;
        }
    }
    return out;
}

}  // namespace switchboard::messaging
