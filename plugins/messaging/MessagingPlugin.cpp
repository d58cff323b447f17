// Messaging plugin lifecycle (see MessagingPlugin.h).
#include "MessagingPlugin.h"

#include <Poco/Logger.h>
#include <rapidjson/document.h>

#include "switchboard/Accounts.h"

namespace switchboard::messaging {

void MessagingPlugin::declareConfig(ConfigSchema& schema) const {
    MessagingConfig::declare(schema);
}

void MessagingPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const MessagingConfig>(MessagingConfig::parse(config));
    _handler = std::make_shared<ChatHandler>(_config);
    _adminRoutes = std::make_unique<MessagingAdminRoutes>(*_handler);
}

std::set<std::int64_t> MessagingPlugin::loadDirectory(HostContext& context) {
    auto accounts = context.services().find<Accounts>("accounts");
    if (!accounts) {
        throw std::runtime_error("the auth plugin's accounts service is not running");
    }
    std::set<std::int64_t> listed;
    constexpr std::size_t kPage = 1000;
    for (std::size_t offset = 0;; offset += kPage) {
        auto page = accounts->list(kPage, offset);
        for (const auto& who : page) {
            _directory.put(who.id, who.username, who.email);
            listed.insert(who.id);
        }
        if (page.size() < kPage) {
            break;
        }
    }
    return listed;
}

void MessagingPlugin::resync(HostContext& context) {
    // Events of other nodes may have been lost while the bus was away: accounts they created
    // are read again, and those they deleted lose their connections here.
    std::set<std::int64_t> listed = loadDirectory(context);
    auto accounts = context.services().find<Accounts>("accounts");
    std::size_t gone = 0;
    for (std::int64_t id : _directory.ids()) {
        // Not listed: deleted, or created here after the listing (then it is still found).
        if (listed.count(id) == 0 && accounts && !accounts->findById(id)) {
            _directory.remove(id);
            _handler->closeAccount(id, "Account deleted");
            ++gone;
        }
    }
    context.logger().information(
        "chat directory reloaded after the bus came back: %z account(s), "
        "%z deleted meanwhile",
        _directory.size(), gone);
}

void MessagingPlugin::takeStored(const Event& e) {
    rapidjson::Document d;
    d.Parse(e.payload.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("messages") ||
        !d["messages"].IsArray()) {
        return;
    }
    MessageWriter::Item item;
    item.kind = MessageWriter::Item::Kind::Remote;
    for (const auto& m : d["messages"].GetArray()) {
        if (!m.IsObject() || !m.HasMember("id") || !m["id"].IsInt64() ||
            !m.HasMember("receiver_id") || !m["receiver_id"].IsInt64()) {
            continue;
        }
        std::int64_t receiver = m["receiver_id"].GetInt64();
        if (_presence.has(receiver)) {  // only messages with a receiver connected here
            item.remote.push_back({m["id"].GetInt64(), receiver});
        }
    }
    if (!item.remote.empty()) {
        _writer->push(std::move(item));
    }
}

void MessagingPlugin::subscribe(HostContext& context) {
    auto account = [](const Event& e, rapidjson::Document& d) {
        d.Parse(e.payload.c_str());
        return !d.HasParseError() && d.IsObject() && d.HasMember("user_id") &&
               d["user_id"].IsInt64();
    };
    context.bus().subscribe("user.created", [this, account](const Event& e) {
        rapidjson::Document d;
        if (account(e, d)) {
            auto text = [&](const char* key) {
                return d.HasMember(key) && d[key].IsString() ? std::string(d[key].GetString())
                                                             : std::string();
            };
            _directory.put(d["user_id"].GetInt64(), text("username"), text("email"));
        }
    });
    context.bus().subscribe("user.deleted", [this, account](const Event& e) {
        rapidjson::Document d;
        if (!account(e, d)) {
            return;
        }
        std::int64_t id = d["user_id"].GetInt64();
        _directory.remove(id);
        _handler->closeAccount(id, "Account deleted");
        // Every node forgets: this also removes what it stored for the account before it
        // heard of the deletion (its writer runs the items in order).
        MessageWriter::Item forget;
        forget.kind = MessageWriter::Item::Kind::Forget;
        forget.userId = id;
        _writer->push(std::move(forget));
    });
    // Another node stored messages: its writer sent them to its own connections, this one's
    // sends them to the receivers connected here (read from the store: no bodies on the bus).
    context.bus().subscribe("chat.stored", [this](const Event& e) {
        if (!e.origin.empty()) {
            takeStored(e);
        }
    });
    context.bus().subscribe("bus.reconnected", [this, &context](const Event&) {
        try {
            resync(context);
        } catch (const std::exception& ex) {
            context.logger().error("chat directory reload failed: %s", std::string(ex.what()));
        }
    });
}

void MessagingPlugin::start(HostContext& context) {
    _context = &context;
    _store = std::make_unique<MessagingStore>(context.store());
    loadDirectory(context);
    _writer = std::make_unique<MessageWriter>(
        *_store, _presence, context.bus(), context.logger(), context.metrics(),
        _config->historyLimit, _config->maxBatch, _config->sendBudget, _config->commitInterval);
    _writer->start();
    _handler->bind(&context, _writer.get(), &_directory, &_presence);
    subscribe(context);
    Metrics& m = context.metrics();
    m.gauge("connections", "Open chat connections",
            [this] { return static_cast<double>(_handler->openCount()); });
    m.gauge("logged_in", "Chat connections logged in",
            [this] { return static_cast<double>(_handler->loggedInCount()); });
    m.gauge("writer_queue", "Items waiting for the message writer",
            [this] { return static_cast<double>(_writer->queued()); });
    auto tick = std::min<std::chrono::milliseconds>(_config->frameTimeout / 4,
                                                    std::chrono::milliseconds(250));
    context.every(std::max<std::chrono::milliseconds>(tick, std::chrono::milliseconds(1)),
                  [this] { _handler->checkTimeouts(); });
    context.logger().information(
        "%z account(s) in the chat directory, %?d undelivered message(s), message id slot %?d",
        _directory.size(), _store->undeliveredCount(), _store->idSlot());
}

void MessagingPlugin::stop() {
    // Connections are closed and work tasks finished (Plugin.h); what is queued is committed.
    if (_writer) {
        _writer->stop();
    }
    _context = nullptr;
}

}  // namespace switchboard::messaging

SWITCHBOARD_PLUGIN(switchboard::messaging::MessagingPlugin)
