// The switchboard binary: the ServerApplication in SwitchboardApp.
#include "app/Platform.h"
#include "app/SwitchboardApp.h"

int main(int argc, char** argv) {
    switchboard::platform::tuneProcess();
    switchboard::SwitchboardApp app;
    return app.run(argc, argv);
}
