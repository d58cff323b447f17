// What the admin listener serves for the console: the embedded files with strict security
// headers, and the JSON of the plugins' view descriptions (GET /admin/api/views).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "switchboard/AdminView.h"
#include "switchboard/Http.h"

namespace switchboard {

/// The Content-Security-Policy of the console: its own scripts, styles and API only; no inline
/// script or style, no framing, no plugins, no form posts elsewhere.
constexpr const char* kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Sets CSP, X-Frame-Options: DENY, X-Content-Type-Options: nosniff, Referrer-Policy and
/// Cache-Control on a console response.
void setConsoleHeaders(HttpResponse& resp);

/// Answers GET `path` with the embedded console file, or 404 {"error": ...} naming the path.
void serveConsoleAsset(const std::string& path, HttpResponse& resp);

/// {"views": [...]}: each plugin's views in order, with "plugin" and the endpoint and action
/// paths made absolute (/admin/api/<plugin>...).
std::string adminViewsJson(
    const std::vector<std::pair<std::string, std::vector<AdminView>>>& byPlugin);

}  // namespace switchboard
