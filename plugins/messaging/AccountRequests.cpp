// Account frames on the work pool (see AccountRequests.h).
#include "AccountRequests.h"

#include <Poco/Logger.h>
#include <sodium.h>

#include "ChatFrames.h"
#include "ChatHandler.h"
#include "MessagingEvents.h"
#include "switchboard/Clock.h"

namespace switchboard::messaging {

void AccountRequests::bind(HostContext* context, Directory* directory, std::size_t sendBudget) {
    _context = context;
    _directory = directory;
    _sendBudget = sendBudget;
}

void AccountRequests::send(const std::shared_ptr<ChatSession>& s, const StreamPtr& conn,
                           std::string bytes, bool closeAfter) {
    _handler.writer().send(s, conn, std::move(bytes), closeAfter);
}

std::shared_ptr<Accounts> AccountRequests::accounts(const StreamPtr& conn,
                                                    const std::shared_ptr<ChatSession>& s) {
    auto accounts = _context->services().find<Accounts>("accounts");
    if (!accounts) {
        send(s, conn, ChatFrames::err("Accounts are unavailable; try again later"));
    }
    return accounts;
}

template <class F>
void AccountRequests::guarded(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                              const char* what, F op) {
    try {
        op();
    } catch (const AccountError& e) {
        if (e.code() == AccountError::Code::Unavailable) {
            _context->logger().warning("%s failed: %s", std::string(what), std::string(e.what()));
            send(s, conn, ChatFrames::err("Accounts are unavailable; try again later"));
        } else {
            send(s, conn, ChatFrames::err(e.what()));
        }
    } catch (const std::exception& e) {
        _context->logger().error("%s failed: %s", std::string(what), std::string(e.what()));
        send(s, conn, ChatFrames::err("Internal error"));
    }
}

void AccountRequests::login(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                            const std::string& login, const std::string& password) {
    auto accounts = this->accounts(conn, s);
    if (!accounts) {
        return;
    }
    guarded(conn, s, "chat login", [&] {
        AuthResult r = accounts->authenticate(login, password, conn->peerHost());
        if (r.status == AuthResult::Status::RateLimited) {
            send(s, conn,
                 ChatFrames::errRetry(
                     "Too many failed logins; retry in " + std::to_string(r.retryAfter) + " s",
                     r.retryAfter));
            return;
        }
        if (r.status != AuthResult::Status::Ok) {
            send(s, conn, ChatFrames::err("Invalid credentials."));
            return;
        }
        const Identity& who = r.identity;
        _directory->put(who.id, who.username, who.email);
        std::int64_t sessionId = 1 + static_cast<std::int64_t>(randombytes_uniform(0x7ffffffe));
        std::uint64_t mark = 0;
        randombytes_buf(&mark, sizeof mark);
        {
            std::lock_guard<std::mutex> lock(s->mutex);
            s->userId = who.id;
            s->login = who.login();
            s->sessionId = sessionId;
            s->deliveryMark = 2 + static_cast<std::int64_t>(mark >> 2);  // 0 and 1 mean more
            s->loggedInAt = epochSeconds();
            s->liveUserId = who.id;
        }
        // SES, LIS and the drain enter the writer's queue in one step: the client sees LIS only
        // after the drain is queued, so every MSG it causes afterwards finds this connection a
        // delivery target (or is stored undelivered and sent by the drain).
        std::vector<MessageWriter::Item> items;
        auto reply = [&](std::string frame) {
            MessageWriter::Item item;
            item.kind = MessageWriter::Item::Kind::Reply;
            item.conn = conn;
            item.session = s;
            item.frame = std::move(frame);
            items.push_back(std::move(item));
        };
        reply(
            FrameCodec::encode(FrameType::SES, "{\"session\":" + std::to_string(sessionId) + "}"));
        for (auto& frame : ChatFrames::list(_directory->listChunks(), 0, _sendBudget)) {
            reply(std::move(frame));
        }
        MessageWriter::Item drain;
        drain.kind = MessageWriter::Item::Kind::Drain;
        drain.conn = conn;
        drain.session = s;
        drain.userId = who.id;
        items.push_back(std::move(drain));
        _handler.writer().pushAll(std::move(items));
        _context->bus().publish("chat.login", MessagingEvents::login(who.id, who.login(),
                                                                     conn->id(), conn->peerHost()));
    });
}

void AccountRequests::registerAccount(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                                      const std::string& login, const std::string& password,
                                      const std::string& email) {
    auto accounts = this->accounts(conn, s);
    if (!accounts) {
        return;
    }
    guarded(conn, s, "chat registration", [&] {
        Identity who = accounts->create(login, email, password);
        _directory->put(who.id, who.username, who.email);
        send(s, conn, ChatFrames::ack());
    });
}

void AccountRequests::changePassword(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                                     const std::string& password) {
    auto accounts = this->accounts(conn, s);
    if (!accounts) {
        return;
    }
    guarded(conn, s, "chat password change", [&] {
        accounts->changePassword(s->liveUserId.load(), password);
        send(s, conn, ChatFrames::ack());
    });
}

void AccountRequests::changeEmail(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                                  const std::string& email) {
    auto accounts = this->accounts(conn, s);
    if (!accounts) {
        return;
    }
    guarded(conn, s, "chat email change", [&] {
        std::int64_t id = s->liveUserId.load();
        accounts->changeEmail(id, email);
        if (auto who = accounts->findById(id)) {
            _directory->put(who->id, who->username, who->email);
        }
        send(s, conn, ChatFrames::ack());
    });
}

void AccountRequests::remove(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s) {
    auto accounts = this->accounts(conn, s);
    if (!accounts) {
        return;
    }
    s->deleting = true;
    bool removed = false;
    guarded(conn, s, "chat account deletion", [&] {
        accounts->remove(s->liveUserId.load());  // user.deleted: the rest follows on the bus
        removed = true;
        send(s, conn, ChatFrames::ack());
        send(s, conn, ChatFrames::dis("Account deleted"), true);
    });
    if (!removed) {
        s->deleting = false;  // the account stays, and so does the connection
    }
}

void AccountRequests::forgotPassword(const std::string& login) {
    auto accounts = _context->services().find<Accounts>("accounts");
    if (!accounts) {
        return;
    }
    try {
        accounts->requestPasswordReset(login);
    } catch (const std::exception& e) {
        _context->logger().warning("password reset request failed: %s", std::string(e.what()));
    }
}

}  // namespace switchboard::messaging
