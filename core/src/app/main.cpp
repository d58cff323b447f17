// The switchboard binary: the ServerApplication in SwitchboardApp, or with `ctl` as its first
// argument the operator CLI (ctl/ControlCommand).
#include <malloc.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "app/SwitchboardApp.h"
#include "ctl/ControlCommand.h"

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "ctl") == 0) {
        signal(SIGPIPE, SIG_IGN);  // a closed pipe (ctl ... | head) is an error, not a kill
        return switchboard::ctl::runControl(std::vector<std::string>(argv + 2, argv + argc),
                                            std::cout, std::cerr);
    }
    // Request bodies up to max_body are single large allocations. A fixed mmap threshold keeps
    // each one in its own mapping, returned to the system when freed; glibc's default threshold
    // grows after the first free and lets a burst of 4 MiB bodies stay in the heap for good.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    switchboard::SwitchboardApp app;
    return app.run(argc, argv);
}
