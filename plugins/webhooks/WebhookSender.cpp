// One delivery attempt (see WebhookSender.h).
#include "WebhookSender.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace switchboard::webhooks {

std::string signature(const std::string& secret, const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

Poco::Net::Context::Ptr WebhookSender::context(const HookConfig& hook) {
    // An explicit context that verifies the receiver (the system's CAs, or the hook's file);
    // POCO's default one would ask on the console about a certificate it cannot verify.
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", hook.caFile,
                                  Poco::Net::Context::VERIFY_RELAXED, 9, hook.caFile.empty(),
                                  "HIGH:!aNULL:!MD5");
}

AttemptResult WebhookSender::post(const HookConfig& hook, const std::string& deliveryId,
                                  const std::string& topic, std::int64_t timestamp,
                                  const std::string& body,
                                  const std::function<void(int)>& onSocket) {
    AttemptResult result;
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (hook.url.getScheme() == "https") {
        session = std::make_unique<Poco::Net::HTTPSClientSession>(
            hook.url.getHost(), hook.url.getPort(), context(hook));
    } else {
        session =
            std::make_unique<Poco::Net::HTTPClientSession>(hook.url.getHost(), hook.url.getPort());
    }
    Poco::Timespan timeout(static_cast<Poco::Timestamp::TimeDiff>(hook.timeout.count()) * 1000);
    session->setTimeout(timeout, timeout, timeout);
    session->setKeepAlive(false);
    std::string target = hook.url.getPathEtc();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target.empty() ? "/" : target,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.set("User-Agent", "Switchboard-Webhooks/1");
    request.set("X-Switchboard-Event", topic);
    request.set("X-Switchboard-Delivery", deliveryId);
    request.set("X-Switchboard-Timestamp", std::to_string(timestamp));
    request.set("X-Switchboard-Signature", "sha256=" + signature(hook.secret, body));
    struct Release {
        const std::function<void(int)>& fn;
        ~Release() { fn(-1); }
    } release{onSocket};
    try {
        std::ostream& out = session->sendRequest(request);
        onSocket(session->socket().impl()->sockfd());
        out << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        std::string ignored;
        Poco::StreamCopier::copyToString(in, ignored);  // bounded by the receive timeout
        result.status = response.getStatus();
    } catch (const Poco::TimeoutException&) {
        result.error = "timeout after " + std::to_string(hook.timeout.count()) + " ms";
    } catch (const Poco::Exception& e) {
        result.error = e.displayText();
    } catch (const std::exception& e) {
        result.error = e.what();
    }
    return result;
}

}  // namespace switchboard::webhooks
