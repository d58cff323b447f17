// The state of one chat connection: its frame decoder, who is logged in on it, and the frames
// waiting while a work-pool task (a password hash) runs for it. Owned by the connection
// (StreamConnection::setData); the handler, the work pool and the writer share it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "FrameCodec.h"

namespace switchboard::messaging {

struct ChatSession {
    std::mutex mutex;  ///< guards every member without its own atomic
    FrameCodec codec;
    /// A work-pool task runs for this connection: later frames wait in `queued`, so replies
    /// keep the order of the requests.
    bool busy = false;
    std::deque<Frame> queued;
    /// A DIS for a framing error is on its way: later bytes are ignored.
    bool closing = false;
    std::int64_t userId = 0;  ///< 0 until LOG succeeds
    std::string login;
    std::int64_t sessionId = 0;
    /// Random (>= 2), set at login before the drain is queued, never changed: the stored
    /// delivered value of the messages this connection's drain took (MessagingStore).
    std::int64_t deliveryMark = 0;
    double loggedInAt = 0;
    double openedAt = 0;
    std::atomic<std::uint64_t> messagesSent{0};

    /// Items of this connection in the writer's queue: while > 0, replies go through the
    /// writer too, so none overtakes the ACK of an earlier MSG.
    std::atomic<int> inflight{0};
    /// Steady-clock ms since a partial frame has been buffered (0: none).
    std::atomic<std::int64_t> partialSinceMs{0};
    /// Set (under the presence lock) when the connection closed.
    bool closed = false;
    std::atomic<std::int64_t> liveUserId{0};  ///< userId, readable without the mutex
    /// This connection's DEL is running: it answers ACK and DIS itself, so the account's
    /// user.deleted does not close it first.
    std::atomic<bool> deleting{false};
};

}  // namespace switchboard::messaging
