// Formats log messages as JSON lines: {"ts", "level", "logger", "msg", "thread"}.
#pragma once

#include <Poco/Formatter.h>

namespace switchboard {

class JsonLogFormatter : public Poco::Formatter {
public:
    void format(const Poco::Message& msg, std::string& text) override;
};

}  // namespace switchboard
