// Message ids that are unique across nodes on one store and ordered by time: milliseconds since
// 2024 (41 bits), this node's slot (12 bits, taken from the store at start) and a sequence
// within the millisecond (10 bits). History and offline delivery order by id, so messages of
// two nodes interleave as they were sent (to the precision of the nodes' clocks).
#pragma once

#include <cstdint>
#include <mutex>

namespace switchboard::messaging {

class MessageIds {
public:
    static constexpr std::int64_t kEpochMs = 1704067200000;  ///< 2024-01-01T00:00:00Z
    static constexpr int kSlotBits = 12;
    static constexpr int kSequenceBits = 10;
    static constexpr std::int64_t kSlots = std::int64_t(1) << kSlotBits;

    /// `slot` is taken modulo kSlots; ids come after `highest` (the largest stored id), even
    /// when this node's clock is behind the node that wrote it.
    MessageIds(std::int64_t slot, std::int64_t highest);

    /// The next id for a message sent at `nowMs` (ms since the Unix epoch). Increases on every
    /// call, also when the clock goes back or more than 1024 ids are taken in one millisecond
    /// (the ids then run ahead of the clock until it catches up). Thread-safe.
    std::int64_t next(std::int64_t nowMs);
    /// next() at the current time.
    std::int64_t next();

    std::int64_t slot() const { return _slot; }

private:
    static constexpr std::int64_t kLastSequence = (std::int64_t(1) << kSequenceBits) - 1;

    std::mutex _mutex;
    const std::int64_t _slot;
    std::int64_t _tick;  ///< ms since kEpochMs of the last id
    std::int64_t _sequence;
};

}  // namespace switchboard::messaging
