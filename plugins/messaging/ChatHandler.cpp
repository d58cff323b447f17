// The chat protocol's frame handling (see ChatHandler.h).
#include "ChatHandler.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <chrono>

#include "AccountRequests.h"
#include "ChatFrames.h"
#include "MessagingEvents.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::messaging {

namespace {

/// Frames that may wait behind a work-pool task of their connection; beyond, it is closed.
constexpr std::size_t kMaxQueuedFrames = 256;

std::int64_t steadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// json::parseObject's messages speak of a "body"; a chat frame has a payload.
std::string payloadError(std::string error) {
    if (error.compare(0, 4, "body") == 0) {
        error.replace(0, 4, "payload");
    }
    return error;
}

}  // namespace

ChatHandler::ChatHandler(std::shared_ptr<const MessagingConfig> config)
    : _config(std::move(config)),
      _accounts(std::make_unique<AccountRequests>(*this)),
      _messageLimit(_config->messagesPerWindow, 0, _config->rateWindow) {}

ChatHandler::~ChatHandler() = default;

void ChatHandler::bind(HostContext* context, MessageWriter* writer, Directory* directory,
                       Presence* presence) {
    _context = context;
    _writer = writer;
    _directory = directory;
    _presence = presence;
    _accounts->bind(context, directory, _config->sendBudget);
    Metrics& m = context->metrics();
    _received = &m.counter("messages_received_total", "MSG frames received");
    _errors = &m.counter("errors_total", "ERR frames sent for bad requests");
    _rejected = &m.counter("messages_rejected_total",
                           "Messages refused (rate limit, hook, too long, unknown receiver)");
}

std::shared_ptr<ChatSession> ChatHandler::sessionOf(const StreamPtr& conn) {
    return std::static_pointer_cast<ChatSession>(conn->data());
}

void ChatHandler::reply(const std::shared_ptr<ChatSession>& s, const StreamPtr& conn,
                        std::string bytes, bool closeAfter) {
    _writer->send(s, conn, std::move(bytes), closeAfter);
}

void ChatHandler::onOpen(const StreamPtr& conn) {
    auto s = std::make_shared<ChatSession>();
    s->openedAt = epochSeconds();
    conn->setData(s);
    std::lock_guard<std::mutex> lock(_openMutex);
    _open[conn->id()] = Open{conn, s};
}

void ChatHandler::onData(const StreamPtr& conn, std::string_view bytes) {
    auto s = sessionOf(conn);
    if (!s) {
        return;
    }
    Lock lock(s->mutex);
    if (s->closing) {
        return;
    }
    s->codec.feed(bytes);
    Frame frame;
    while (conn->isOpen() && !s->closing && s->codec.next(frame)) {
        if (!s->busy) {
            handle(conn, s, frame);
            continue;
        }
        if (s->queued.size() >= kMaxQueuedFrames) {
            s->closing = true;
            reply(s, conn, ChatFrames::dis("Too many requests waiting"), true);
            return;
        }
        s->queued.push_back(std::move(frame));
    }
    if (!s->codec.partial()) {
        s->partialSinceMs = 0;
    } else if (s->partialSinceMs.load() == 0) {
        s->partialSinceMs = steadyMs();
    }
}

void ChatHandler::onClose(const StreamPtr& conn) {
    auto s = sessionOf(conn);
    {
        std::lock_guard<std::mutex> lock(_openMutex);
        _open.erase(conn->id());
    }
    if (!s) {
        return;
    }
    std::int64_t userId = 0;
    std::string login;
    {
        std::lock_guard<std::mutex> lock(s->mutex);
        userId = s->userId;
        login = s->login;
    }
    _presence->close(userId, conn, *s);
    if (userId != 0) {
        _context->bus().publish("chat.logout",
                                MessagingEvents::logout(userId, login, conn->id(),
                                                        closeReasonName(conn->closeReason())));
    }
}

void ChatHandler::resume(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s) {
    Lock lock(s->mutex);
    s->busy = false;
    while (!s->busy && !s->closing && !s->queued.empty() && conn->isOpen()) {
        Frame frame = std::move(s->queued.front());
        s->queued.pop_front();
        handle(conn, s, frame);
    }
}

void ChatHandler::offload(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                          std::function<void()> task) {
    s->busy = true;
    bool queued = _context->work([this, conn, s, task = std::move(task)] {
        try {
            task();
        } catch (const std::exception& e) {
            _context->logger().error("chat connection %?u: %s", conn->id(), std::string(e.what()));
            reply(s, conn, ChatFrames::err("Internal error"));
        }
        resume(conn, s);
    });
    if (!queued) {
        s->busy = false;
        _errors->inc();
        reply(s, conn, ChatFrames::err("Server busy; try again"));
    }
}

void ChatHandler::handle(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                         Frame& frame) {
    auto error = [&](const std::string& text) {
        _errors->inc();
        reply(s, conn, ChatFrames::err(text));
    };
    bool known = FrameCodec::knownType(frame.type);
    if (frame.version != FrameCodec::kVersion) {
        if (!known) {  // neither field makes sense: the stream is not chat frames
            s->closing = true;
            reply(s, conn, ChatFrames::dis("Bad frame header"), true);
            return;
        }
        error("Unsupported protocol version " + std::to_string(frame.version) + " (expected 1)");
        return;
    }
    if (!known) {
        error("Unknown frame type " + std::to_string(frame.type));
        return;
    }
    auto type = static_cast<FrameType>(frame.type);
    rapidjson::Document body;
    std::string problem;
    if (frame.payload.find_first_not_of(" \t\r\n") == std::string::npos) {
        body.SetObject();  // an empty payload is {} (DIS, LIS, DEL carry nothing)
    } else if (!json::parseObject(frame.payload, body, problem)) {
        error(payloadError(problem));
        return;
    }
    std::string login, password, email, text;
    switch (type) {
        case FrameType::ACK:
        case FrameType::ERR:
            return;  // a client's acknowledgement needs no answer
        case FrameType::SES:
        case FrameType::HIS:
            error(FrameCodec::typeName(frame.type) + " is sent by the server, not by clients");
            return;
        case FrameType::DIS:
            conn->close();
            return;
        case FrameType::LOG:
            if (s->userId != 0) {
                error("Already logged in");
            } else if (!json::requireString(body, "login", login, problem) ||
                       !json::requireString(body, "password", password, problem)) {
                error(problem);
            } else {
                offload(conn, s, [=] { _accounts->login(conn, s, login, password); });
            }
            return;
        case FrameType::REG:
            if (!json::requireString(body, "login", login, problem) ||
                !json::requireString(body, "password", password, problem) ||
                !json::requireString(body, "email", email, problem)) {
                error(problem);
            } else {
                offload(conn, s,
                        [=] { _accounts->registerAccount(conn, s, login, password, email); });
            }
            return;
        case FrameType::FRP:
            if (!json::requireString(body, "login", login, problem)) {
                error(problem);
                return;
            }
            reply(s, conn, ChatFrames::ack());  // always, whether the account exists or not
            _context->work([this, login] { _accounts->forgotPassword(login); });
            return;
        default:
            break;
    }
    if (s->userId == 0) {
        error("Not logged in");
        return;
    }
    switch (type) {
        case FrameType::MSG:
            handleMessage(conn, s, body);
            return;
        case FrameType::UPD:
            handleHistory(conn, s, body);
            return;
        case FrameType::LIS:
            handleList(conn, s, body);
            return;
        case FrameType::CHP:
            if (!json::requireString(body, "password", password, problem)) {
                error(problem);
            } else {
                offload(conn, s, [=] { _accounts->changePassword(conn, s, password); });
            }
            return;
        case FrameType::CHM:
            if (!json::requireString(body, "email", email, problem)) {
                error(problem);
            } else {
                offload(conn, s, [=] { _accounts->changeEmail(conn, s, email); });
            }
            return;
        case FrameType::DEL:
            offload(conn, s, [=] { _accounts->remove(conn, s); });
            return;
        default:
            return;
    }
}

void ChatHandler::resolve(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                          const std::string& login,
                          std::function<void(const Directory::Entry&)> then) {
    if (auto entry = _directory->find(login)) {
        then(*entry);
        return;
    }
    offload(conn, s, [this, conn, s, login, then = std::move(then)] {
        auto accounts = _context->services().find<Accounts>("accounts");
        std::optional<Identity> who;
        if (accounts && login.size() <= 254) {
            who = accounts->find(login);
        }
        if (!who) {
            _errors->inc();
            reply(s, conn, ChatFrames::err("Unknown user: " + login));
            return;
        }
        _directory->put(who->id, who->username, who->email);
        then(Directory::Entry{who->id, who->login()});
    });
}

void ChatHandler::handleMessage(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                                const rapidjson::Document& body) {
    _received->inc();
    std::string to, text, problem;
    if (!json::requireString(body, "reciever", to, problem) ||
        !json::optionalString(body, "msg", text, problem)) {
        _errors->inc();
        reply(s, conn, ChatFrames::err(problem));
        return;
    }
    resolve(conn, s, to, [this, conn, s, text = std::move(text)](const Directory::Entry& e) {
        sendMessage(conn, s, e, text);
    });
}

void ChatHandler::sendMessage(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                              const Directory::Entry& to, std::string text) {
    auto refuse = [&](std::string why) {
        _rejected->inc();
        reply(s, conn, ChatFrames::err(why));
    };
    if (_config->messagesPerWindow > 0) {
        std::int64_t wait = _messageLimit.attempt(std::to_string(s->userId));
        if (wait > 0) {
            _rejected->inc();
            reply(s, conn,
                  ChatFrames::errRetry("Too many messages; retry in " + std::to_string(wait) + " s",
                                       wait));
            return;
        }
    }
    StoredMessage m;
    m.senderId = s->userId;
    m.receiverId = to.id;
    m.sender = s->login;
    m.reciever = to.login;
    m.msg = std::move(text);
    m.ts = epochSeconds();
    Lua& lua = _context->lua();
    if (lua.hasHook("on_chat_message")) {
        rapidjson::Document arg(rapidjson::kObjectType);
        auto& a = arg.GetAllocator();
        arg.AddMember("sender", rapidjson::Value(m.sender.c_str(), a), a);
        arg.AddMember("reciever", rapidjson::Value(m.reciever.c_str(), a), a);
        arg.AddMember(
            "msg",
            rapidjson::Value(m.msg.data(), static_cast<rapidjson::SizeType>(m.msg.size()), a), a);
        arg.AddMember("ts", m.ts, a);
        LuaResult r = lua.call("on_chat_message", {&arg});
        if (!r.ok) {
            refuse("Message not sent: the message hook failed");
            return;
        }
        static const rapidjson::Value kNil;
        const rapidjson::Value& first = r.values.Size() > 0 ? r.values[0] : kNil;
        if (first.IsNull()) {
            std::string reason = r.values.Size() > 1 && r.values[1].IsString()
                                     ? r.values[1].GetString()
                                     : "rejected by the server";
            refuse("Message not sent: " + reason);
            return;
        }
        if (first.IsObject() && first.HasMember("msg")) {
            if (!first["msg"].IsString()) {
                refuse("Message not sent: the message hook returned a msg that is not a string");
                return;
            }
            m.msg.assign(first["msg"].GetString(), first["msg"].GetStringLength());
        }
    }
    m.body = ChatFrames::delivered(m);
    if (m.body.size() > ChatFrames::kMaxDelivered) {
        refuse("Message too long: delivered it would be " + std::to_string(m.body.size()) +
               " bytes (limit " + std::to_string(ChatFrames::kMaxDelivered) + ")");
        return;
    }
    m.msg.clear();  // the body holds it
    m.id = _writer->nextId();
    ++s->messagesSent;
    MessageWriter::Item item;
    item.kind = MessageWriter::Item::Kind::Message;
    item.conn = conn;
    item.session = s;
    item.message = std::move(m);
    item.frame = FrameCodec::encode(FrameType::MSG, item.message.body);
    _writer->push(std::move(item));
}

void ChatHandler::handleHistory(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                                const rapidjson::Document& body) {
    std::string with, problem;
    if (!json::optionalString(body, "reciever", with, problem)) {
        _errors->inc();
        reply(s, conn, ChatFrames::err(problem));
        return;
    }
    if (with.empty()) {
        reply(s, conn, FrameCodec::encode(FrameType::HIS, "{\"history\":[]}"));
        return;
    }
    resolve(conn, s, with, [this, conn, s](const Directory::Entry& e) {
        MessageWriter::Item item;
        item.kind = MessageWriter::Item::Kind::History;
        item.conn = conn;
        item.session = s;
        item.userId = s->userId;
        item.otherId = e.id;
        _writer->push(std::move(item));
    });
}

void ChatHandler::handleList(const StreamPtr& conn, const std::shared_ptr<ChatSession>& s,
                             const rapidjson::Document& body) {
    std::int64_t offset = 0;
    std::string problem;
    if (body.HasMember("offset") &&
        (!json::requireInt(body, "offset", offset, problem) || offset < 0)) {
        _errors->inc();
        reply(s, conn, ChatFrames::err("offset must be a non-negative integer"));
        return;
    }
    for (auto& frame : ChatFrames::list(_directory->listChunks(), static_cast<std::size_t>(offset),
                                        _config->sendBudget)) {
        reply(s, conn, std::move(frame));
    }
}

void ChatHandler::checkTimeouts() {
    std::int64_t now = steadyMs();
    std::int64_t limit = _config->frameTimeout.count();
    std::vector<std::pair<StreamPtr, std::shared_ptr<ChatSession>>> late;
    {
        std::lock_guard<std::mutex> lock(_openMutex);
        for (auto& [id, open] : _open) {
            std::int64_t since = open.session->partialSinceMs.load();
            if (since != 0 && now - since > limit) {
                if (auto conn = open.conn.lock()) {
                    late.emplace_back(conn, open.session);
                }
            }
        }
    }
    for (auto& [conn, s] : late) {
        {
            std::lock_guard<std::mutex> lock(s->mutex);
            if (s->closing) {
                continue;
            }
            s->closing = true;
        }
        s->partialSinceMs = 0;
        reply(s, conn, ChatFrames::dis("Incomplete frame: timed out"), true);
    }
}

void ChatHandler::closeAccount(std::int64_t userId, const std::string& reason) {
    std::vector<std::pair<StreamPtr, std::shared_ptr<ChatSession>>> hit;
    {
        std::lock_guard<std::mutex> lock(_openMutex);
        for (auto& [id, open] : _open) {
            if (open.session->liveUserId.load() == userId && !open.session->deleting.load()) {
                if (auto conn = open.conn.lock()) {
                    hit.emplace_back(conn, open.session);
                }
            }
        }
    }
    for (auto& [conn, s] : hit) {
        if (conn->isOpen()) {
            reply(s, conn, ChatFrames::dis(reason), true);
        }
    }
}

std::vector<ChatHandler::ConnectionInfo> ChatHandler::connections() const {
    std::vector<std::pair<std::uint64_t, Open>> open;
    {
        std::lock_guard<std::mutex> lock(_openMutex);
        open.assign(_open.begin(), _open.end());
    }
    std::vector<ConnectionInfo> out;
    for (auto& [id, o] : open) {
        auto conn = o.conn.lock();
        if (!conn) {
            continue;
        }
        ConnectionInfo info;
        info.id = id;
        info.peer = conn->peerHost();
        std::lock_guard<std::mutex> lock(o.session->mutex);
        info.userId = o.session->userId;
        info.login = o.session->login;
        info.openedAt = o.session->openedAt;
        info.loggedInAt = o.session->loggedInAt;
        info.messagesSent = o.session->messagesSent.load();
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(),
              [](const ConnectionInfo& a, const ConnectionInfo& b) { return a.id < b.id; });
    return out;
}

bool ChatHandler::kick(std::uint64_t id, const std::string& reason) {
    StreamPtr conn;
    std::shared_ptr<ChatSession> s;
    {
        std::lock_guard<std::mutex> lock(_openMutex);
        auto it = _open.find(id);
        if (it == _open.end()) {
            return false;
        }
        conn = it->second.conn.lock();
        s = it->second.session;
    }
    if (!conn || !conn->isOpen()) {
        return false;
    }
    reply(s, conn, ChatFrames::dis(reason), true);
    return true;
}

std::size_t ChatHandler::openCount() const {
    std::lock_guard<std::mutex> lock(_openMutex);
    return _open.size();
}

std::size_t ChatHandler::loggedInCount() const {
    std::lock_guard<std::mutex> lock(_openMutex);
    std::size_t n = 0;
    for (const auto& [id, open] : _open) {
        n += open.session->liveUserId.load() != 0 ? 1 : 0;
    }
    return n;
}

}  // namespace switchboard::messaging
