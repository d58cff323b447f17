// The switchboard binary: the ServerApplication in SwitchboardApp.
#include <malloc.h>

#include "app/SwitchboardApp.h"

int main(int argc, char** argv) {
    // Request bodies up to max_body are single large allocations. A fixed mmap threshold keeps
    // each one in its own mapping, returned to the system when freed; glibc's default threshold
    // grows after the first free and lets a burst of 4 MiB bodies stay in the heap for good.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    switchboard::SwitchboardApp app;
    return app.run(argc, argv);
}
