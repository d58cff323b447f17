// The chat frames that reach the auth plugin's accounts (LOG, REG, CHP, CHM, DEL, FRP). Each
// runs on the work pool — LOG, REG and CHP hash a password — and answers from there through
// the message writer, so the connection's replies keep their order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ChatSession.h"
#include "Directory.h"
#include "switchboard/Accounts.h"
#include "switchboard/HostContext.h"
#include "switchboard/Stream.h"

namespace switchboard::messaging {

class ChatHandler;

class AccountRequests {
public:
    explicit AccountRequests(ChatHandler& handler) : _handler(handler) {}
    void bind(HostContext* context, Directory* directory, std::size_t sendBudget);

    /// LOG: SES{session} and LIS{users} (then the undelivered messages), or ERR.
    void login(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
               const std::string& login, const std::string& password);
    /// REG: ACK, or ERR naming the problem (duplicate, weak password, bad email).
    void registerAccount(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                         const std::string& login, const std::string& password,
                         const std::string& email);
    void changePassword(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                        const std::string& password);
    void changeEmail(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                     const std::string& email);
    /// DEL: ACK, DIS, close; the account is removed everywhere.
    void remove(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s);
    /// FRP (the ACK is already sent): a reset mail if the account exists.
    void forgotPassword(const std::string& login);

private:
    /// The accounts service, or nullptr after an ERR when auth is not running.
    std::shared_ptr<Accounts> accounts(const StreamPtr& conn,
                                       const std::shared_ptr<ChatSession>& s);
    /// Runs `op`; an AccountError becomes ERR{what()}, anything else a logged ERR.
    template <class F>
    void guarded(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s, const char* what,
                 F op);
    void send(const std::shared_ptr<ChatSession>& s, const StreamPtr& conn, std::string bytes,
              bool closeAfter = false);

    ChatHandler& _handler;
    HostContext* _context = nullptr;
    Directory* _directory = nullptr;
    std::size_t _sendBudget = 0;
};

}  // namespace switchboard::messaging
