// Why a long-lived connection (WebSocket, stream) ended, as its handler's onClose sees it.
#pragma once

namespace switchboard {

enum class CloseReason {
    PeerClosed,     ///< the peer closed the connection cleanly (a WebSocket close frame, or EOF
                    ///< on a stream)
    Lost,           ///< the connection broke: a reset, a failed write, or a WebSocket that
                    ///< ended without a close frame
    Timeout,        ///< idle too long, a partial frame or handshake not finished in time, or
                    ///< the peer accepted none of our bytes for the I/O timeout
    Overflow,       ///< more output queued for the peer than the limit (a peer that never reads)
    ProtocolError,  ///< the peer broke the protocol (bad frame, invalid UTF-8, message too big)
    Shutdown,       ///< the server or the plugin is stopping
    Server,         ///< the plugin closed it (close() was called)
};

/// "peer closed", "connection lost", "timeout", "overflow", "protocol error", "shutdown", "closed
/// by server".
inline const char* closeReasonName(CloseReason reason) {
    switch (reason) {
        case CloseReason::PeerClosed:
            return "peer closed";
        case CloseReason::Lost:
            return "connection lost";
        case CloseReason::Timeout:
            return "timeout";
        case CloseReason::Overflow:
            return "overflow";
        case CloseReason::ProtocolError:
            return "protocol error";
        case CloseReason::Shutdown:
            return "shutdown";
        case CloseReason::Server:
            return "closed by server";
    }
    return "closed";
}

}  // namespace switchboard
