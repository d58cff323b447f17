// `switchboard ctl <noun> <verb>`: the operator CLI over the admin API. Parses the command
// line, finds the admin URL and token (options, environment, the config file, the token file
// the server writes), runs one request and prints the answer as a table or as JSON.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace switchboard::ctl {

/// Exit codes (docs/operations.md, "Operator CLI").
enum ExitCode {
    kOk = 0,
    kFailed = 1,       ///< the server failed (5xx) or answered something unexpected
    kUsage = 2,        ///< bad command line
    kUnreachable = 3,  ///< no admin API at the URL
    kRefused = 4,      ///< 400/401/403/409/429: the request was refused
    kNotFound = 5,     ///< 404: no such plugin, device, user, session, peer...
};

/// Runs the CLI on `args` (what follows "ctl"); returns the exit code.
int runControl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace switchboard::ctl
