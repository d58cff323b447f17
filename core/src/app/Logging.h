// Where log lines go and how they look: server.log (level, text or JSON lines, standard error
// or a rotated file).
#pragma once

#include "config/HostConfig.h"

namespace switchboard {

/// Sends every logger to the configured sink with the configured format and level.
void configureLogging(const HostConfig& config);

}  // namespace switchboard
