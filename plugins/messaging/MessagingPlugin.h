// The messaging plugin (the chat protocol of seed 003 on a TLS stream listener): lifecycle and
// wiring only.
#pragma once

#include <memory>
#include <set>

#include "ChatHandler.h"
#include "Directory.h"
#include "MessageWriter.h"
#include "MessagingAdminRoutes.h"
#include "MessagingConfig.h"
#include "MessagingStore.h"
#include "Presence.h"
#include "switchboard/Plugin.h"

namespace switchboard::messaging {

class MessagingPlugin : public Plugin {
public:
    std::vector<std::string> dependencies() const override { return {"auth"}; }
    void declareConfig(ConfigSchema& schema) const override;
    void configure(const ConfigSection& config) override;
    std::string listener() const override { return _config->listener; }
    std::shared_ptr<StreamHandler> streamHandler() override { return _handler; }
    std::vector<Route> adminRoutes() override { return _adminRoutes->routes(); }
    std::vector<AdminView> adminViews() const override { return MessagingAdminRoutes::views(); }
    void start(HostContext& context) override;
    void stop() override;

private:
    /// Reads every account's login from the auth plugin into the directory; returns their ids.
    std::set<std::int64_t> loadDirectory(HostContext& context);
    /// After bus.reconnected: reloads the directory and closes the connections of accounts
    /// deleted meanwhile.
    void resync(HostContext& context);
    /// chat.stored from another node: queues its messages that have a receiver connected here.
    void takeStored(const Event& e);
    void subscribe(HostContext& context);

    std::shared_ptr<const MessagingConfig> _config;
    std::shared_ptr<ChatHandler> _handler;
    std::unique_ptr<MessagingAdminRoutes> _adminRoutes;
    std::unique_ptr<MessagingStore> _store;
    std::unique_ptr<MessageWriter> _writer;
    Directory _directory;
    Presence _presence;
    HostContext* _context = nullptr;
};

}  // namespace switchboard::messaging
