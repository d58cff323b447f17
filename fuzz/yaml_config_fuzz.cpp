// The YAML config loader as the host uses it (config/ConfigDocument + HostConfig::parse, what
// Host::load runs on the file at start and on every reload). Checked: the only exception is
// ConfigError (Host::load catches nothing else), every problem is a message naming the file,
// and a config without problems names its admin listener.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "config/ConfigDocument.h"
#include "config/HostConfig.h"
#include "switchboard/Config.h"

using switchboard::ConfigDocument;
using switchboard::ConfigError;
using switchboard::HostConfig;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // ${FUZZ_SET} expands, ${FUZZ_UNSET} is reported.
    setenv("FUZZ_SET", "8080", 1);
    unsetenv("FUZZ_UNSET");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string file = "fuzz.yaml";
    std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> errors;
    try {
        ConfigDocument doc = ConfigDocument::loadString(text, file);
        HostConfig config = HostConfig::parse(doc, "/work", errors);
        if (errors.empty()) {
            FUZZ_CHECK(config.listeners.count(config.adminListener) == 1);
            FUZZ_CHECK(config.eventThreads >= 1 && config.workThreads >= 1);
            for (const auto& [name, listener] : config.listeners) {
                FUZZ_CHECK(listener.name == name);
                FUZZ_CHECK(listener.port >= 1);
                FUZZ_CHECK(listener.maxBody >= 1);
            }
        }
        // What --check-config and the admin console show of the document.
        for (const std::string& key : doc.keys("")) {
            FUZZ_CHECK(doc.location(key).rfind(file, 0) == 0);
        }
    } catch (const ConfigError& e) {
        FUZZ_CHECK(!e.messages().empty());
        for (const std::string& m : e.messages()) {
            FUZZ_CHECK(m.rfind(file, 0) == 0);
        }
        return 0;
    }
    for (const std::string& m : errors) {
        if (m.rfind(file, 0) != 0) {
            std::fprintf(stderr, "problem not naming the file: %s\n", m.c_str());
        }
        FUZZ_CHECK(m.rfind(file, 0) == 0);
    }
    return 0;
}
