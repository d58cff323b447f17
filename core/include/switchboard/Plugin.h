// The plugin contract. Lifecycle: declareConfig -> configure (validate, build immutable config)
// -> routes()/webSocketRoutes()/streamHandler() collected -> start -> handlers run -> stop. The
// host calls these dependencies first and stops in reverse order; any exception a plugin throws
// is caught and reported with the plugin's name.
#pragma once

#include <Poco/ClassLibrary.h>

#include <memory>
#include <string>
#include <vector>

#include "switchboard/AdminView.h"
#include "switchboard/Config.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"
#include "switchboard/Stream.h"
#include "switchboard/WebSocket.h"

namespace switchboard {

/// Bumped whenever this header or anything it includes changes incompatibly.
constexpr int kPluginAbiVersion = 9;

/// A plugin instance, created by the host from the plugin's library.
///
/// The host guarantees that a plugin's code runs only while the instance is running: its HTTP
/// and admin route handlers, WebSocket and stream callbacks, bus handlers and timers are called
/// only after start() has returned and never after stop() has been called. Before stop(), a
/// reload (or a disable, or the shutdown) unmounts the instance's routes and lets the requests
/// already inside its handlers finish, closes its WebSocket and stream connections and lets
/// their onClose callbacks finish, and cancels its timers and bus subscriptions, waiting for a
/// task or handler that is running. Handlers therefore need no "not running" checks of their
/// own: what they use can be set up in start() and torn down in stop(). The one exception is
/// logged: a request still running when server.shutdown_timeout runs out keeps the instance
/// alive until it returns, but may then run alongside or after stop().
class Plugin {
public:
    virtual ~Plugin() = default;
    /// Other plugins (config keys) that must start before this one.
    virtual std::vector<std::string> dependencies() const { return {}; }
    /// Declares the plugin's config fields. The host adds `enabled` and `required`.
    virtual void declareConfig(ConfigSchema& schema) const = 0;
    /// Takes the validated section. Throws ConfigError (see ConfigSection::error) for
    /// problems the schema cannot express; several at once as
    /// ConfigError(std::vector<ConfigError>), so the operator sees every one in one run.
    virtual void configure(const ConfigSection& config) = 0;
    /// Listener the routes mount on: the plugin's `listener` config key by convention.
    virtual std::string listener() const { return {}; }
    /// HTTP routes for the plugin's listener.
    virtual std::vector<Route> routes() { return {}; }
    /// Routes mounted on the admin listener under /admin/api/<plugin>.
    virtual std::vector<Route> adminRoutes() { return {}; }
    /// The console's views of the admin routes (see AdminView.h), served at /admin/api/views.
    virtual std::vector<AdminView> adminViews() const { return {}; }
    virtual std::vector<WebSocketRoute> webSocketRoutes() { return {}; }
    /// For plugins served on a TLS TCP (stream) listener.
    virtual std::shared_ptr<StreamHandler> streamHandler() { return nullptr; }
    /// Migrations, timers, subscriptions. The context outlives the plugin's start..stop. No
    /// handler, callback or timer of this instance is called before start() returns.
    virtual void start(HostContext& context) = 0;
    /// Stops timers and threads and flushes state. Must not throw. Called after the routes are
    /// unmounted and in-flight requests have finished; no handler, callback or timer of this
    /// instance is called once stop() has been called.
    virtual void stop() = 0;
};

}  // namespace switchboard

/// Exports a plugin class from its shared library: the POCO manifest plus the ABI symbols the
/// host checks before it creates the class.
#define SWITCHBOARD_PLUGIN(ClassName)                                    \
    POCO_BEGIN_MANIFEST(switchboard::Plugin)                             \
    POCO_EXPORT_CLASS(ClassName)                                         \
    POCO_END_MANIFEST                                                    \
    extern "C" POCO_LIBRARY_API int switchboard_plugin_abi() {           \
        return switchboard::kPluginAbiVersion;                           \
    }                                                                    \
    extern "C" POCO_LIBRARY_API const char* switchboard_plugin_class() { \
        return #ClassName;                                               \
    }
