// The helpers of the plugin API's request and response (see switchboard/Http.h).
#include "switchboard/Http.h"

#include <Poco/String.h>

#include "switchboard/Json.h"

namespace switchboard {

std::string HttpRequest::bearerToken() const {
    std::string value = header("Authorization");
    if (value.size() > 7 && Poco::icompare(value.substr(0, 7), "bearer ") == 0) {
        return Poco::trim(value.substr(7));
    }
    return {};
}

void HttpResponse::error(int status, std::string_view message) {
    setStatus(status);
    setBody(json::errorBody(message));
}

void HttpResponse::storeUnavailable(std::string_view what) {
    storeUnavailableBody(json::errorBody(what));
}

void HttpResponse::storeUnavailableBody(std::string body) {
    setHeader("Retry-After", std::to_string(kStoreRetryAfterSeconds));
    json(503, std::move(body));
}

}  // namespace switchboard
