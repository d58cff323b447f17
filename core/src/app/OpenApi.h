// OpenAPI 3.1 documents generated from a mounted route table: each route's RouteDoc becomes an
// operation, its {name} segments path parameters, the owner (plugin or "host") its tag.
#pragma once

#include <string>

namespace switchboard {

class RouteTable;

struct OpenApiInfo {
    std::string title;
    std::string version;
    std::string description;
};

class OpenApi {
public:
    /// The document of every route in `table` (WebSocket upgrades as GET answering 101). A
    /// route without documentation is still listed, with the summary "undocumented".
    static std::string render(const RouteTable& table, const OpenApiInfo& info);
};

}  // namespace switchboard
