// The TunneLink HTTP API (seed 000): /register_server, /server_status, /get_server_details,
// and the admin listing. Handlers validate input, consult the registry, and never throw.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "PairingConfig.h"
#include "PairingStore.h"
#include "ServerRegistry.h"
#include "switchboard/AdminView.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"
#include "switchboard/RateLimiter.h"

namespace switchboard::pairing {

class PairingRoutes {
public:
    PairingRoutes(std::shared_ptr<const PairingConfig> config, ServerRegistry& registry);

    /// Connects the handlers to the running plugin's context and store (at start; the host
    /// calls handlers only between start and stop, see Plugin.h).
    void bind(HostContext* context, PairingStore* store);
    std::vector<Route> routes();
    std::vector<Route> adminRoutes();
    /// The console's views of these routes (AdminView.h).
    static std::vector<AdminView> adminViews();

private:
    void registerServer(const HttpRequest& req, HttpResponse& resp);
    void serverStatus(const HttpRequest& req, HttpResponse& resp);
    void serverDetails(const HttpRequest& req, HttpResponse& resp);
    void listServers(const HttpRequest& req, HttpResponse& resp);
    /// Runs the on_server_register hook; false (and the response set) if it rejects or fails.
    bool allowedByHook(const ServerInfo& server, const std::string& peer, HttpResponse& resp);
    /// With require_server_secret: whether the body's server_secret opens `server` (401 set
    /// otherwise: missing or wrong). `body` is a parsed JSON object.
    bool secretAccepted(const ServerInfo& server, const rapidjson::Value& body,
                        HttpResponse& resp) const;
    /// Rejects an empty, NUL-carrying or over-long ssh_pubkey / ssh_user (400).
    bool checkField(const std::string& name, const std::string& value, HttpResponse& resp) const;

    /// Heartbeats older than this are offline (now - offline_after).
    double cutoff() const;
    /// Loads a server that is online in the store (through another node) into the registry.
    bool adoptFromStore(const std::string& sshPubkey);

    std::shared_ptr<const PairingConfig> _config;
    ServerRegistry& _registry;
    /// Failed look-ups per address and per network (both shrink during an attack).
    RateLimiter _lookupLimiter;
    RateLimiter _networkLimiter;
    /// Registrations of new keys per address and per network.
    RateLimiter _registrationLimiter;
    RateLimiter _registrationNetworkLimiter;
    HostContext* _context = nullptr;
    PairingStore* _store = nullptr;
    std::mutex _registerMutex;  ///< registrations are rare: one at a time keeps codes simple
    Counter* _registrations = nullptr;
    Counter* _heartbeats = nullptr;
    Counter* _lookupsOk = nullptr;
    Counter* _lookupsFailed = nullptr;
    Counter* _rateLimited = nullptr;
};

}  // namespace switchboard::pairing
