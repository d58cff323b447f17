// The admin console's files (core/console/), built into the binary by cmake/EmbedAssets.cmake.
#pragma once

#include <cstddef>
#include <string>

namespace switchboard {

struct ConsoleAsset {
    const char* path;         ///< the URL path it is served at, e.g. "/console/console.js"
    const char* contentType;  ///< with charset for text
    const unsigned char* data;
    std::size_t size;
};

/// The asset served at `path`, or nullptr.
const ConsoleAsset* findConsoleAsset(const std::string& path);

}  // namespace switchboard
