// TLS server contexts for listeners, and the self-signed development certificate generated at
// first start when the configured certificate and key files do not exist.
#pragma once

#include <Poco/Net/Context.h>

#include <string>

#include "config/ListenerOptions.h"

namespace switchboard {

/// Creates the certificate and key (EC P-256, CN=localhost, SAN localhost/127.0.0.1, one year)
/// if neither file exists. Returns true if it generated them. Throws std::runtime_error if only
/// one of the two exists or generation fails.
bool ensureDevCertificate(const std::string& certFile, const std::string& keyFile);

/// A TLS 1.2+ server context with modern ciphers; with `ca` set, client certificates are
/// required and verified against it.
Poco::Net::Context::Ptr makeServerContext(const TlsOptions& tls);

}  // namespace switchboard
