// The application shell (see SwitchboardApp.h).
#include "app/SwitchboardApp.h"

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Path.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

#include "app/Host.h"
#include "app/Platform.h"
#include "config/HostConfig.h"

namespace switchboard {

SwitchboardApp::SwitchboardApp() : _workDir(Poco::Path::current()) {
    // Captured here: with --daemon, POCO changes to / before initialize() and main() run.
    setUnixOptions(true);
}

void SwitchboardApp::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c",
                                         "configuration file "
                                         "(default etc/switchboard.yaml)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE"));
    options.addOption(Poco::Util::Option("check-config", "",
                                         "validate the configuration and "
                                         "plugins, then exit")
                          .required(false)
                          .repeatable(false));
    options.addOption(Poco::Util::Option("print-schema", "",
                                         "print the configuration reference "
                                         "(Markdown) of the host and of the "
                                         "plugins the config names, then exit")
                          .required(false)
                          .repeatable(false));
    options.addOption(
        Poco::Util::Option("help", "h", "show this help").required(false).repeatable(false));
}

void SwitchboardApp::handleOption(const std::string& name, const std::string& value) {
    ServerApplication::handleOption(name, value);
    if (name == "config") {
        _configFile = value;
    } else if (name == "check-config") {
        _checkOnly = true;
    } else if (name == "print-schema") {
        _printSchema = true;
    } else if (name == "help") {
        _helpRequested = true;
        stopOptionsProcessing();
    }
}

void SwitchboardApp::printHelp() {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [--check-config] [--daemon] [--pidfile FILE]");
    help.setHeader(
        "Switchboard: one server hosting pairing, devices, auth, signaling and chat "
        "as plugins.");
    help.setFooter("Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.");
    help.format(std::cout);
}

std::string SwitchboardApp::exeDir() const {
    std::string dir = config().getString("application.dir");
    while (dir.size() > 1 && dir.back() == '/') {
        dir.pop_back();
    }
    return dir;
}

int SwitchboardApp::checkConfig() {
    Host host(_configFile, _workDir, exeDir());
    std::vector<std::string> warnings;
    std::vector<std::string> errors = host.check(warnings);
    for (const auto& w : warnings) {
        std::cerr << "warning: " << w << "\n";
    }
    for (const auto& e : errors) {
        std::cerr << e << "\n";
    }
    if (!errors.empty()) {
        std::cerr << _configFile << ": " << errors.size() << " problem"
                  << (errors.size() == 1 ? "" : "s") << "\n";
        return EXIT_CONFIG;
    }
    std::cout << _configFile << ": configuration OK\n";
    return EXIT_OK;
}

int SwitchboardApp::main(const std::vector<std::string>&) {
    if (_helpRequested) {
        printHelp();
        return EXIT_OK;
    }
    if (_printSchema) {
        Host host(_configFile, _workDir, exeDir());
        try {
            std::cout << host.schemaReference();
        } catch (const std::exception& e) {
            std::cerr << e.what() << "\n";
            return EXIT_CONFIG;
        }
        return EXIT_OK;
    }
    platform::prepareMainThread();  // before any thread exists (signals, file limit)

    Poco::Net::initializeSSL();
    // Outgoing TLS (webhooks, SMTP) that cannot verify its peer fails; POCO's default handler
    // would ask on the console (POCO-NOTES §8), which a service has not got.
    Poco::Net::SSLManager::instance().initializeClient(
        nullptr, new Poco::Net::RejectCertificateHandler(false),
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                               Poco::Net::Context::VERIFY_RELAXED, 9, true, "HIGH:!aNULL:!MD5"));
    if (_checkOnly) {
        int rc = checkConfig();
        Poco::Net::uninitializeSSL();
        return rc;
    }
    int rc = EXIT_OK;
    {
        Host host(_configFile, _workDir, exeDir());
        try {
            host.start();
        } catch (const StartError& e) {
            std::cerr << e.what() << "\n";
            Poco::Logger::get("switchboard.host").fatal("start failed: %s", std::string(e.what()));
            host.stop();
            Poco::Net::uninitializeSSL();
            return EXIT_CONFIG;
        }
        for (;;) {
            int sig = 0;
            if (platform::waitForRequest(sig) == platform::Request::Reload) {
                Poco::Logger::get("switchboard.host").notice("SIGHUP: reloading configuration");
                host.reload();
                continue;
            }
            Poco::Logger::get("switchboard.host").notice("signal %d: stopping", sig);
            break;
        }
        host.stop();
    }
    Poco::Net::uninitializeSSL();
    return rc;
}

}  // namespace switchboard
