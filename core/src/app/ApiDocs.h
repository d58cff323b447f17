// The API documentation pages: Swagger UI at <prefix>/docs and ReDoc at <prefix>/redoc, from the
// npm packages in web/apidocs built into the binary (no CDN, no inline script), rendering the
// listener's OpenAPI document.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "switchboard/Http.h"

namespace switchboard {

/// A file built into the binary (generated ApiDocsAssets.cpp).
struct EmbeddedAsset {
    const char* name;
    std::string_view data;
};
/// Every embedded file of the documentation pages.
const std::vector<EmbeddedAsset>& apiDocsAssets();

class ApiDocs {
public:
    /// The pages and their assets under `prefix` ("" on public listeners, "/admin" on the admin
    /// listener), reading the document at `document`. Unguarded; the caller guards the admin
    /// ones.
    static std::vector<Route> routes(const std::string& prefix, const std::string& document);

    /// The Content-Security-Policy of the pages: scripts from this origin only (no inline
    /// script); inline styles, which both UIs set.
    static constexpr const char* kPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
        "data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri "
        "'none'; form-action 'none'; frame-ancestors 'none'";
};

}  // namespace switchboard
