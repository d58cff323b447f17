// Messaging configuration schema and parsing (see MessagingConfig.h).
#include "MessagingConfig.h"

namespace switchboard::messaging {

void MessagingConfig::declare(ConfigSchema& schema) {
    schema.string("listener", "chat", "Stream (TLS TCP) listener serving the chat protocol")
        .integer("history_limit", 50, 1, 100000,
                 "Messages of a conversation an UPD answers with (the newest, oldest first)")
        .duration("frame_timeout", "5s",
                  "A frame whose header or payload is not complete this long after its first "
                  "byte is a framing error (DIS, then close)")
        .atLeast("1ms")
        .integer("max_batch", 2048, 1, 100000,
                 "Messages written in one transaction at most (group commit across "
                 "connections)")
        .duration("commit_interval", "1ms",
                  "Under load, a commit of the message writer starts this long after the "
                  "previous one began, so the messages of the interval share one transaction "
                  "(0s: commit at once, a transaction per message when they come one by one); "
                  "an idle writer commits a message at once")
        .atMost("1s")
        .size("send_budget", "256KiB",
              "Bytes of stored messages (at login) or of LIS frames sent to a connection in one "
              "go; keep it below the listener's stream.max_outbound, which closes a connection "
              "whose queue passes it")
        .atLeast("1KiB");
    schema.section("rate_limit", "Messages one account may send (ERR with a retry hint beyond)")
        .integer("messages", 200, 0, 100000000, "Messages per account per window (0: no limit)")
        .duration("window", "1s", "Length of the counting window")
        .atLeast("1ms");
}

MessagingConfig MessagingConfig::parse(const ConfigSection& section) {
    MessagingConfig c;
    c.listener = section.getString("listener");
    c.historyLimit = section.getInt("history_limit");
    c.frameTimeout = section.getDuration("frame_timeout");
    c.maxBatch = static_cast<std::size_t>(section.getInt("max_batch"));
    c.commitInterval = std::chrono::duration_cast<std::chrono::microseconds>(
        section.getDuration("commit_interval"));
    c.sendBudget = static_cast<std::size_t>(section.getSize("send_budget"));
    c.messagesPerWindow = static_cast<std::uint64_t>(section.getInt("rate_limit.messages"));
    c.rateWindow = section.getDuration("rate_limit.window");
    return c;
}

}  // namespace switchboard::messaging
