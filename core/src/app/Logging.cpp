// Logging set-up (see Logging.h).
#include "app/Logging.h"

#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>

#include <iostream>

#include "app/JsonLogFormatter.h"

namespace switchboard {

void configureLogging(const HostConfig& c) {
    Poco::AutoPtr<Poco::Channel> sink;
    if (c.logFile.empty()) {
        sink = new Poco::ConsoleChannel(std::cerr);
    } else {
        Poco::File(Poco::Path(c.logFile).parent()).createDirectories();
        auto* file = new Poco::FileChannel(c.logFile);
        file->setProperty("rotation", "100 M");
        file->setProperty("archive", "timestamp");
        file->setProperty("purgeCount", "5");
        sink = file;
    }
    Poco::AutoPtr<Poco::Formatter> formatter;
    if (c.logFormat == "json") {
        formatter = new JsonLogFormatter;
    } else {
        formatter = new Poco::PatternFormatter("%Y-%m-%d %H:%M:%S.%i %q %s: %t");
        formatter->setProperty("times", "local");
    }
    Poco::AutoPtr<Poco::Channel> channel = new Poco::FormattingChannel(formatter, sink);
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(c.logLevel));
}

}  // namespace switchboard
