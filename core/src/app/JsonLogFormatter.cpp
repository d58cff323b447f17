// JSON-lines log formatter (see JsonLogFormatter.h).
#include "app/JsonLogFormatter.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Message.h>

#include "switchboard/Json.h"

namespace switchboard {

namespace {
const char* levelName(Poco::Message::Priority p) {
    static const char* names[] = {"",       "fatal",       "critical", "error", "warning",
                                  "notice", "information", "debug",    "trace"};
    int i = static_cast<int>(p);
    return (i >= 1 && i <= 8) ? names[i] : "unknown";
}
}  // namespace

void JsonLogFormatter::format(const Poco::Message& msg, std::string& text) {
    text =
        "{\"ts\":\"" +
        Poco::DateTimeFormatter::format(msg.getTime(), Poco::DateTimeFormat::ISO8601_FRAC_FORMAT) +
        "\",\"level\":\"" + levelName(msg.getPriority()) +
        "\",\"logger\":" + json::quote(msg.getSource()) + ",\"msg\":" + json::quote(msg.getText()) +
        ",\"thread\":" + std::to_string(msg.getTid()) + "}";
}

}  // namespace switchboard
