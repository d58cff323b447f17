// The messaging plugin's configuration: declared once as a schema, parsed into an immutable
// struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "switchboard/Config.h"

namespace switchboard::messaging {

struct MessagingConfig {
    std::string listener = "chat";
    std::int64_t historyLimit = 50;
    std::chrono::milliseconds frameTimeout{5000};
    std::uint64_t messagesPerWindow = 200;
    std::chrono::milliseconds rateWindow{1000};
    std::size_t maxBatch = 2048;
    std::chrono::microseconds commitInterval{1000};
    std::size_t sendBudget = 256 * 1024;

    static void declare(ConfigSchema& schema);
    static MessagingConfig parse(const ConfigSection& section);
};

}  // namespace switchboard::messaging
