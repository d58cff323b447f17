// Byte-stream (TLS TCP) listeners for framed protocols such as the chat protocol: the plugin
// parses its own frames from the bytes it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard {

class StreamConnection {
public:
    virtual ~StreamConnection() = default;
    virtual std::uint64_t id() const = 0;
    virtual std::string peerHost() const = 0;
    /// Queues bytes for sending. Thread-safe. Returns false if the connection is closed.
    virtual bool send(std::string_view bytes) = 0;
    /// Closes after the queued bytes are sent. Thread-safe, idempotent.
    virtual void close() = 0;
    virtual bool isOpen() const = 0;
    virtual void setData(std::shared_ptr<void> data) = 0;
    virtual std::shared_ptr<void> data() const = 0;
};

using StreamPtr = std::shared_ptr<StreamConnection>;

class StreamHandler {
public:
    virtual ~StreamHandler() = default;
    virtual void onOpen(const StreamPtr& conn) = 0;
    /// Bytes as they arrive (any split); the handler buffers partial frames.
    virtual void onData(const StreamPtr& conn, std::string_view bytes) = 0;
    virtual void onClose(const StreamPtr& conn) = 0;
};

}  // namespace switchboard
