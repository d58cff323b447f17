// The frames the server sends, built in one place: {"msg": ...} replies, a delivered message
// (sender, reciever, msg, ts — the seed's spelling) and payloads split to fit 64 KiB frames.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "Directory.h"
#include "FrameCodec.h"
#include "MessagingStore.h"

namespace switchboard::messaging {

struct ChatFrames {
    /// Room kept in a frame for the envelope around a list entry ({"history":[ ... ],"more":
    /// true}): a delivered message is at most kMaxPayload - kEnvelope bytes, so it also fits a
    /// HIS frame on its own.
    static constexpr std::size_t kEnvelope = 64;
    static constexpr std::size_t kMaxDelivered = FrameCodec::kMaxPayload - kEnvelope;

    /// `type` with {"msg": text}, or {} when `text` is empty.
    static std::string reply(FrameType type, std::string_view text = {});
    static std::string ack(std::string_view text = {}) { return reply(FrameType::ACK, text); }
    static std::string err(std::string_view text) { return reply(FrameType::ERR, text); }
    static std::string dis(std::string_view text = {}) { return reply(FrameType::DIS, text); }
    /// {"msg": text, "retry_after": seconds}
    static std::string errRetry(std::string_view text, long long seconds);
    /// The JSON object of a delivered message from its sender, reciever, msg and ts (stored as
    /// its body, also a HIS entry).
    static std::string delivered(const StoredMessage& m);
    /// HIS frames: the bodies oldest first, split over several frames when they pass 64 KiB
    /// ({"history":[...],"more":true} for all but the last). `maxPayload` is the frame limit in
    /// the plugin; the fuzz target makes it small (a body longer than `maxPayload - kEnvelope`
    /// is left out: the plugin refuses such messages as "message too long").
    static std::vector<std::string> history(const std::vector<StoredMessage>& messages,
                                            std::size_t maxPayload = FrameCodec::kMaxPayload);
    /// The LIS answer from the login at `offset` on: frames of up to 64 KiB, all but the last
    /// with "more": true; past `budget` bytes (send_budget, so the connection's outbound queue
    /// never overflows with a big directory) the last carries "next": N instead (ask
    /// LIS{"offset": N} for the rest).
    static std::vector<std::string> list(const Directory::ListChunks& chunks, std::size_t offset,
                                         std::size_t budget);
};

}  // namespace switchboard::messaging
