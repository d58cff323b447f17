// API documentation pages (see ApiDocs.h).
#include "app/ApiDocs.h"

#include <stdexcept>

namespace switchboard {

namespace {

std::string_view asset(const std::string& name) {
    for (const auto& a : apiDocsAssets()) {
        if (name == a.name) {
            return a.data;
        }
    }
    throw std::logic_error("no embedded asset " + name);  // a build without the file
}

std::string contentType(const std::string& name) {
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".js") == 0) {
        return "application/javascript; charset=utf-8";
    }
    return "text/css; charset=utf-8";
}

/// Answers `body`: a page (owned) or an embedded file (a view of the binary's own data).
template <class Body>
HttpHandler serve(Body body, std::string type) {
    return
        [body = std::move(body), type = std::move(type)](const HttpRequest&, HttpResponse& resp) {
            resp.setStatus(200);
            resp.setHeader("Content-Security-Policy", ApiDocs::kPolicy);
            resp.setHeader("X-Content-Type-Options", "nosniff");
            resp.setHeader("X-Frame-Options", "DENY");
            resp.setHeader("Cache-Control", "no-cache");
            resp.setBody(std::string(body), type);
        };
}

/// A page that loads `scripts` (and `style`) from this origin and nothing inline.
std::string page(const std::string& title, const std::string& id, const std::string& document,
                 const std::vector<std::string>& scripts, const std::string& style) {
    std::string html =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
        title + "</title>\n";
    if (!style.empty()) {
        html += "<link rel=\"stylesheet\" href=\"" + style + "\">\n";
    }
    html += "</head>\n<body>\n<div id=\"" + id + "\" data-url=\"" + document + "\"></div>\n";
    for (const auto& s : scripts) {
        html += "<script src=\"" + s + "\"></script>\n";
    }
    return html + "</body>\n</html>\n";
}

}  // namespace

std::vector<Route> ApiDocs::routes(const std::string& prefix, const std::string& document) {
    const std::string docs = prefix + "/docs";
    const std::string redoc = prefix + "/redoc";
    std::vector<Route> routes;
    auto file = [&](const std::string& dir, const std::string& name, const std::string& what) {
        routes.push_back(
            {"GET", dir + "/" + name, serve(asset(name), contentType(name)), false,
             RouteDoc(what + " (built in)")
                 .answerOfType(200, "the file",
                               contentType(name).substr(0, contentType(name).find(';')))});
    };
    routes.push_back({"GET", docs,
                      serve(page("Switchboard API: Swagger UI", "swagger-ui", document,
                                 {docs + "/swagger-ui-bundle.js", docs + "/swagger-init.js"},
                                 docs + "/swagger-ui.css"),
                            "text/html; charset=utf-8"),
                      false,
                      RouteDoc("Swagger UI on this listener's OpenAPI document")
                          .answerOfType(200, "the page", "text/html")});
    file(docs, "swagger-ui-bundle.js", "Swagger UI (swagger-ui-dist)");
    file(docs, "swagger-ui.css", "Swagger UI's style sheet (swagger-ui-dist)");
    file(docs, "swagger-init.js", "Starts Swagger UI on the page's document");
    routes.push_back({"GET", redoc,
                      serve(page("Switchboard API: ReDoc", "redoc", document,
                                 {redoc + "/redoc.standalone.js", redoc + "/redoc-init.js"}, ""),
                            "text/html; charset=utf-8"),
                      false,
                      RouteDoc("ReDoc on this listener's OpenAPI document")
                          .answerOfType(200, "the page", "text/html")});
    file(redoc, "redoc.standalone.js", "ReDoc (redoc)");
    file(redoc, "redoc-init.js", "Starts ReDoc on the page's document");
    return routes;
}

}  // namespace switchboard
