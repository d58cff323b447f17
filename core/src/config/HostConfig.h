// The host's own configuration: its schema (server, store, bus, listeners, admin, audit, lua) and
// the typed settings parsed from a validated document. Plugin sections are validated separately by
// the PluginManager against each plugin's schema.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/ListenerOptions.h"
#include "switchboard/Config.h"

namespace switchboard {

class ConfigDocument;
class TrustedProxies;

struct HostConfig {
    std::string file;  ///< the YAML file, as given
    std::string dataDir;
    std::vector<std::string> pluginDirs;
    /// Peers whose X-Forwarded-For names the client address (server.trusted_proxies).
    std::shared_ptr<const TrustedProxies> trustedProxies;
    std::size_t eventThreads = 2;
    std::size_t workThreads = 4;
    std::size_t workQueue = 10000;
    std::size_t maxBufferedBytes = 256u << 20;  ///< request body bytes held, all connections
    std::chrono::milliseconds shutdownTimeout{10000};
    std::string logLevel = "information";
    std::string logFormat = "text";
    std::string logFile;
    std::string accessLogFile;  ///< empty: no access log
    std::string accessLogFormat = "text";
    std::size_t accessLogQueue = 65536;
    std::string storeUrl;
    std::chrono::milliseconds flushInterval{1000};
    std::string busUrl = "local";
    std::size_t busQueue = 10000;
    std::map<std::string, ListenerOptions> listeners;
    std::string adminToken;
    std::string adminListener = "admin";
    std::vector<std::string> adminAllowedHosts;
    std::chrono::milliseconds adminSessionTtl{12 * 3600 * 1000};
    std::chrono::milliseconds adminHistoryInterval{10000};
    std::chrono::milliseconds adminHistoryWindow{15 * 60 * 1000};
    std::uint64_t adminFailuresPerAddress = 10;
    std::chrono::milliseconds adminFailureWindow{60000};
    std::chrono::milliseconds auditRetention{90LL * 24 * 3600 * 1000};
    std::vector<std::string> luaScripts;
    std::uint64_t luaInstructionBudget = 1000000;
    std::size_t luaMemoryLimit = 32 * 1024 * 1024;
    std::string luaFingerprint;
    /// The `plugins:` keys in file order.
    std::vector<std::string> pluginNames;

    /// The host's schema (everything but the contents of `plugins`).
    static const ConfigSchema& schema();
    /// Validates the host part of `doc`, appending problems to `errors`. Relative paths are
    /// resolved against `workDir`.
    static HostConfig parse(const ConfigDocument& doc, const std::string& workDir,
                            std::vector<std::string>& errors);
};

}  // namespace switchboard
