// Entry point of the switchboard executable.
#include "app/SwitchboardApp.h"

int main(int argc, char** argv) {
    switchboard::SwitchboardApp app;
    return app.run(argc, argv);
}
