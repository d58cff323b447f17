// The validated settings of one listener (listeners.<name> in the YAML).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace switchboard {

/// WebSocket connections of one listener (listeners.<name>.websocket).
struct WebSocketLimits {
    std::size_t maxMessage = 64 * 1024;
    std::size_t maxOutbound = 1024 * 1024;  ///< bytes queued for the peer before it is closed
    std::chrono::milliseconds idleTimeout{60000};   ///< 0: never
    std::chrono::milliseconds pingInterval{20000};  ///< a ping after this long quiet; 0: never
    /// A half-received frame or queued output the peer does not take, for longer: closed.
    std::chrono::milliseconds ioTimeout{5000};
};

struct TlsOptions {
    bool enabled = false;
    std::string cert;  ///< PEM certificate (chain) file
    std::string key;   ///< PEM private key file
    std::string ca;    ///< optional CA file: clients must present a certificate it signed
};

struct ListenerOptions {
    std::string name;
    std::string bind = "0.0.0.0";
    std::uint16_t port = 0;
    std::string protocol = "http";  ///< "http" (HTTP/1.1 + WebSocket) or "stream" (TLS TCP)
    TlsOptions tls;
    std::size_t maxBody = 4 * 1024 * 1024;
    int threads = 32;                                 ///< handler threads (connections hold none)
    std::chrono::milliseconds requestTimeout{15000};  ///< a whole request, head and body
    std::chrono::milliseconds keepAliveTimeout{5000};
    std::size_t maxConnections = 20000;
    std::size_t maxConnectionsPerAddress = 1024;
    WebSocketLimits webSocket;
    /// Stream (TLS TCP) connections: idle limit, handshake and write-stall limit, queue bound.
    std::chrono::milliseconds streamIdleTimeout{300000};
    std::chrono::milliseconds streamIoTimeout{5000};
    std::size_t streamMaxOutbound = 1024 * 1024;
};

}  // namespace switchboard
