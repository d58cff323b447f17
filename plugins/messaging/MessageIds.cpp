// Time-ordered message ids (see MessageIds.h).
#include "MessageIds.h"

#include <algorithm>
#include <chrono>

namespace switchboard::messaging {

MessageIds::MessageIds(std::int64_t slot, std::int64_t highest)
    : _slot(((slot % kSlots) + kSlots) % kSlots),
      _tick(std::max<std::int64_t>(highest, 0) >> (kSlotBits + kSequenceBits)),
      _sequence(kLastSequence) {}  // so the first id is past every id of that millisecond

std::int64_t MessageIds::next(std::int64_t nowMs) {
    std::int64_t tick = std::max<std::int64_t>(nowMs - kEpochMs, 0);
    std::lock_guard<std::mutex> lock(_mutex);
    if (tick > _tick) {
        _tick = tick;
        _sequence = 0;
    } else if (_sequence < kLastSequence) {
        ++_sequence;
    } else {
        ++_tick;  // borrow the next millisecond
        _sequence = 0;
    }
    return (_tick << (kSlotBits + kSequenceBits)) | (_slot << kSequenceBits) | _sequence;
}

std::int64_t MessageIds::next() {
    return next(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
}

}  // namespace switchboard::messaging
