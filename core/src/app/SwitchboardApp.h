// The switchboard executable: a Poco ServerApplication with --config, --check-config and
// --help (plus POCO's --daemon/--pidfile and Windows service options). SIGTERM/SIGINT stop
// gracefully; SIGHUP reloads the configuration.
#pragma once

#include <Poco/Util/ServerApplication.h>

#include <string>

namespace switchboard {

class SwitchboardApp : public Poco::Util::ServerApplication {
public:
    SwitchboardApp();

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    int main(const std::vector<std::string>& args) override;

private:
    void printHelp();
    int checkConfig();
    /// Directory of the executable, without a trailing slash.
    std::string exeDir() const;

    std::string _configFile = "etc/switchboard.yaml";
    std::string _workDir;  ///< the start-up directory (--daemon later moves to /)
    bool _checkOnly = false;
    bool _helpRequested = false;
    bool _printSchema = false;
};

}  // namespace switchboard
