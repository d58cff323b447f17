// Device enrolment on the admin listener (/admin/api/devices...): create a device with a
// one-time token, issue a new token, list and show devices, revoke. Errors are
// {"error": "<what is wrong>"} like every admin route.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "DeviceRegistry.h"
#include "DeviceSync.h"
#include "DevicesConfig.h"
#include "DevicesStore.h"
#include "switchboard/AdminView.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"
#include "switchboard/Paging.h"

namespace switchboard::devices {

class DevicesAdminRoutes {
public:
    DevicesAdminRoutes(std::shared_ptr<const DevicesConfig> config, DeviceRegistry& registry);

    /// Connects the handlers to the running plugin (at start; the host calls handlers only
    /// between start and stop, see Plugin.h).
    void bind(HostContext* context, DevicesStore* store, DeviceSync* sync);
    /// Paths relative to /admin/api/devices.
    std::vector<Route> routes();
    /// The console's views of these routes (AdminView.h).
    static std::vector<AdminView> views();

    /// True if `key` is 1-128 characters of A-Z a-z 0-9 . _ -
    static bool validKey(const std::string& key);

private:
    void create(const HttpRequest& req, HttpResponse& resp);
    void newToken(const HttpRequest& req, HttpResponse& resp);
    void list(const HttpRequest& req, HttpResponse& resp);
    void show(const HttpRequest& req, HttpResponse& resp);
    void revoke(const HttpRequest& req, HttpResponse& resp);

    /// Gives `device` (mutex held) a fresh token, durable; returns the code. Throws StoreError.
    std::string issueToken(Device& device, double now, bool persist);
    /// {"device_key": ..., "token_code": ..., "token_expires_at": ...}
    static std::string tokenBody(const Device& device, const std::string& code);
    /// GET on a shared store: the page from the store (devices of every node), each entry
    /// with this node's later heartbeat where it has one.
    void listShared(const PageQuery& page, HttpResponse& resp);

    std::shared_ptr<const DevicesConfig> _config;
    DeviceRegistry& _registry;
    HostContext* _context = nullptr;
    DevicesStore* _store = nullptr;
    DeviceSync* _sync = nullptr;
    std::mutex _createMutex;  ///< one enrolment at a time: the key check and insert stay atomic
    Counter* _enrolled = nullptr;
    Counter* _revoked = nullptr;
};

}  // namespace switchboard::devices
