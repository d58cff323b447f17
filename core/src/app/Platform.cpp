// POSIX implementation of the platform seam (see Platform.h).
#include "app/Platform.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <initializer_list>

namespace switchboard::platform {

namespace {
sigset_t requestSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGHUP, SIGINT, SIGTERM, SIGQUIT}) {
        sigaddset(&signals, s);
    }
    return signals;
}
}  // namespace

void tuneProcess() {
    // Request bodies up to max_body are single large allocations. A fixed mmap threshold keeps
    // each one in its own mapping, returned to the system when freed; glibc's default threshold
    // grows after the first free and lets a burst of 4 MiB bodies stay in the heap for good.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

void prepareMainThread() {
    // Blocked before any thread exists, so they all inherit the mask and only the sigwait in
    // waitForRequest() sees them (POCO's own wait ignores SIGHUP, which would kill us).
    sigset_t signals = requestSignals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // Thousands of idle WebSockets need thousands of descriptors: use all the hard limit allows.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
}

Request waitForRequest(int& signal) {
    sigset_t signals = requestSignals();
    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) {
            continue;
        }
        signal = sig;
        return sig == SIGHUP ? Request::Reload : Request::Stop;
    }
}

}  // namespace switchboard::platform
