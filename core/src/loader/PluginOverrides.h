// Runtime plugin overrides: which plugins an operator enabled or disabled through the admin API,
// kept in <server.data_dir>/plugin-overrides.yaml and applied on top of the config file at every
// start and reload. The config file stays the operator's; this one is the server's.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace switchboard {

/// Plugin name -> enabled (true) or disabled (false).
using PluginOverrideMap = std::map<std::string, bool>;

class PluginOverrides {
public:
    /// The file's name under a data directory.
    static constexpr const char* kFileName = "plugin-overrides.yaml";

    /// Reads `file` (absent: no overrides). Each problem ("<file>:<line>: <name>: expected
    /// enabled or disabled") goes to `errors`; the entries that parse are returned.
    static PluginOverrideMap read(const std::string& file, std::vector<std::string>& errors);
    /// Replaces `file` with `overrides` (written to a temporary file, then renamed, so a crash
    /// leaves the old or the new file); no overrides removes the file. Throws
    /// std::runtime_error naming the file.
    static void write(const std::string& file, const PluginOverrideMap& overrides);
};

}  // namespace switchboard
