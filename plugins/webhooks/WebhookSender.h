// One delivery attempt: the signed POST of an event's body to a hook's URL over HTTP or HTTPS
// (POCO HTTPClientSession / HTTPSClientSession), with the hook's timeouts.
#pragma once

#include <Poco/Net/Context.h>

#include <functional>
#include <string>

#include "WebhooksConfig.h"

namespace switchboard::webhooks {

/// What one attempt came to.
struct AttemptResult {
    int status = 0;     ///< HTTP status, 0 when no response came
    std::string error;  ///< why there was no response (connect refused, timeout...), or ""
};

/// Hex HMAC-SHA256 of `body` keyed with `secret` (what follows "sha256=" in the header).
std::string signature(const std::string& secret, const std::string& body);

class WebhookSender {
public:
    /// Sends one attempt. `onSocket` is called with the connection's descriptor once it is
    /// open and with -1 when it is done, so that a stop can shut a hanging attempt down.
    AttemptResult post(const HookConfig& hook, const std::string& deliveryId,
                       const std::string& topic, std::int64_t timestamp, const std::string& body,
                       const std::function<void(int)>& onSocket);

private:
    Poco::Net::Context::Ptr context(const HookConfig& hook);
};

}  // namespace switchboard::webhooks
