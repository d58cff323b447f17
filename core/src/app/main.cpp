// The switchboard binary: the ServerApplication in SwitchboardApp, or with `ctl` as its first
// argument the operator CLI (ctl/ControlCommand).
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "app/Platform.h"
#include "app/SwitchboardApp.h"
#include "ctl/ControlCommand.h"

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "ctl") == 0) {
        signal(SIGPIPE, SIG_IGN);  // a closed pipe (ctl ... | head) is an error, not a kill
        return switchboard::ctl::runControl(std::vector<std::string>(argv + 2, argv + argc),
                                            std::cout, std::cerr);
    }
    switchboard::platform::tuneProcess();
    switchboard::SwitchboardApp app;
    return app.run(argc, argv);
}
