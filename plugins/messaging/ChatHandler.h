// The chat protocol on a stream listener: splits each connection's bytes into frames, checks
// them (version, type, JSON object, field types, login state) and answers. MSG, UPD and LIS are
// served from memory and the message writer; what hashes a password or changes an account goes
// to AccountRequests on the work pool while the connection's later frames wait their turn.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ChatSession.h"
#include "Directory.h"
#include "MessageWriter.h"
#include "MessagingConfig.h"
#include "Presence.h"
#include "switchboard/HostContext.h"
#include "switchboard/RateLimiter.h"
#include "switchboard/Stream.h"

namespace switchboard::messaging {

class AccountRequests;

class ChatHandler : public StreamHandler {
public:
    /// One open connection, as the admin API lists it.
    struct ConnectionInfo {
        std::uint64_t id = 0;
        std::string peer;
        std::int64_t userId = 0;
        std::string login;
        double openedAt = 0;
        double loggedInAt = 0;
        std::uint64_t messagesSent = 0;
    };

    explicit ChatHandler(std::shared_ptr<const MessagingConfig> config);
    ~ChatHandler() override;

    /// Connects the handler to the running plugin (at start; callbacks come only between
    /// start and stop, see Plugin.h).
    void bind(HostContext* context, MessageWriter* writer, Directory* directory,
              Presence* presence);
    /// The running plugin's context (between start and stop).
    HostContext& context() const { return *_context; }

    void onOpen(const StreamPtr& conn) override;
    void onData(const StreamPtr& conn, std::string_view bytes) override;
    void onClose(const StreamPtr& conn) override;

    /// Closes connections whose partial frame is older than frame_timeout (DIS first).
    void checkTimeouts();
    /// Sends DIS{msg} to every connection logged in as `userId` and closes them.
    void closeAccount(std::int64_t userId, const std::string& reason);
    /// Open connections ordered by id.
    std::vector<ConnectionInfo> connections() const;
    /// DIS{msg} and close; false if no such connection is open.
    bool kick(std::uint64_t id, const std::string& reason);
    std::size_t openCount() const;
    std::size_t loggedInCount() const;

    /// Called by AccountRequests when a work-pool task for `conn` ends: runs the frames that
    /// waited for it.
    void resume(const StreamPtr& conn, const std::shared_ptr<ChatSession>& session);
    MessageWriter& writer() { return *_writer; }

private:
    using Lock = std::unique_lock<std::mutex>;
    struct Open {
        std::weak_ptr<StreamConnection> conn;
        std::shared_ptr<ChatSession> session;
    };

    /// Handles one frame; the session's mutex is held.
    void handle(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s, Frame& frame);
    void handleMessage(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                       const rapidjson::Document& body);
    void handleHistory(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                       const rapidjson::Document& body);
    /// LIS{offset?}: ChatFrames::list from `offset` (default 0).
    void handleList(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                    const rapidjson::Document& body);
    /// Checks, runs the hook and queues a message to `to`; the session's mutex is held or the
    /// session is busy (so nothing else touches it).
    void sendMessage(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                     const Directory::Entry& to, std::string text);
    /// Runs `then` with the account `login`, looked up in the directory or, on a miss, with
    /// Accounts::find on the work pool; ERR "Unknown user: <login>" if there is none.
    void resolve(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                 const std::string& login, std::function<void(const Directory::Entry&)> then);
    /// Runs `task` on the work pool with the session busy; ERR "Server busy" if the pool's
    /// queue is full.
    void offload(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                 std::function<void()> task);
    void reply(const std::shared_ptr<ChatSession>& s, const StreamPtr& conn, std::string bytes,
               bool closeAfter = false);
    static std::shared_ptr<ChatSession> sessionOf(const StreamPtr& conn);

    std::shared_ptr<const MessagingConfig> _config;
    std::unique_ptr<AccountRequests> _accounts;
    RateLimiter _messageLimit;
    HostContext* _context = nullptr;
    MessageWriter* _writer = nullptr;
    Directory* _directory = nullptr;
    Presence* _presence = nullptr;
    Counter* _received = nullptr;
    Counter* _errors = nullptr;
    Counter* _rejected = nullptr;

    mutable std::mutex _openMutex;
    std::unordered_map<std::uint64_t, Open> _open;
};

}  // namespace switchboard::messaging
