// Byte-stream (TLS TCP) listeners for framed protocols such as the chat protocol: the plugin
// parses its own frames from the bytes it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/CloseReason.h"

namespace switchboard {

/// One accepted connection (TLS already negotiated on a TLS listener). Owned by the host; a
/// plugin may keep the shared_ptr (e.g. in a registry of logged-in users) after onClose.
class StreamConnection {
public:
    virtual ~StreamConnection() = default;
    /// Unique for the life of the process.
    virtual std::uint64_t id() const = 0;
    /// IP address of the TCP peer (no port).
    virtual std::string peerHost() const = 0;
    /// Queues bytes for sending. Thread-safe. Returns false if the connection is closed; past
    /// the listener's stream.max_outbound (a peer that does not read) it is closed (Overflow).
    virtual bool send(std::string_view bytes) = 0;
    /// Bytes queued for sending and not yet taken by the socket (0 once closed). Thread-safe.
    /// For senders of long answers (a chat backlog) that continue only while the peer keeps
    /// up, instead of passing stream.max_outbound.
    virtual std::size_t queued() const = 0;
    /// Closes after the queued bytes are sent. Thread-safe, idempotent.
    virtual void close() = 0;
    /// False once either side closed the connection.
    virtual bool isOpen() const = 0;
    /// Per-connection plugin state (e.g. the logged-in user). Thread-safe.
    virtual void setData(std::shared_ptr<void> data) = 0;
    /// The state set last, or nullptr.
    virtual std::shared_ptr<void> data() const = 0;
    /// Why the connection ended (meaningful in and after onClose).
    virtual CloseReason closeReason() const = 0;
};

using StreamPtr = std::shared_ptr<StreamConnection>;

/// A plugin's protocol on a stream listener. The callbacks of one connection never overlap;
/// they run on the event-loop thread that serves thousands of other connections too: keep them
/// short and hand slow work (password hashing, store writes) to HostContext::work, sending the
/// answer from there (send() is thread-safe). Exceptions are logged on the plugin's logger; one
/// from onData closes the connection.
class StreamHandler {
public:
    virtual ~StreamHandler() = default;
    /// A new connection, before any data.
    virtual void onOpen(const StreamPtr& conn) = 0;
    /// Bytes as they arrive (any split); the handler buffers partial frames.
    virtual void onData(const StreamPtr& conn, std::string_view bytes) = 0;
    /// The connection is gone (either side closed it, it idled out, or the plugin stops).
    virtual void onClose(const StreamPtr& conn) = 0;
};

}  // namespace switchboard
