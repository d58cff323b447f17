// Names the calling thread, so `top -H`, `ps -L`, perf and gdb tell the host's threads apart
// (Linux keeps 15 characters: longer names are cut).
#pragma once

#include <string>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace switchboard {

/// Names the calling thread: "sb-" and what it does ("sb-loop-0", "sb-chat-writer").
inline void nameThisThread(const std::string& name) {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
#else
    static_cast<void>(name);
#endif
}

}  // namespace switchboard
