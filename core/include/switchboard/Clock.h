// The wall clock as the wire formats carry it: epoch seconds with microseconds (Python's
// time.time(), what the seeds send) and epoch milliseconds. One definition for every plugin.
#pragma once

#include <chrono>
#include <cstdint>

namespace switchboard {

/// Seconds since the epoch with microseconds, like Python's time.time().
inline double epochSeconds() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return static_cast<double>(us) / 1e6;
}

/// Milliseconds since the epoch.
inline std::int64_t epochMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace switchboard
