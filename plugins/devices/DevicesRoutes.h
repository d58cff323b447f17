// The Meeting device API on the public listener (seed 004, DESIGN.md §7): registration with a
// one-time token, heartbeats, the SSH host key, a device's SSH key and its details. Replies are
// {"ok": bool, "message": str, ...}; handlers validate input and never throw.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "DeviceRegistry.h"
#include "DeviceSync.h"
#include "DevicesConfig.h"
#include "DevicesStore.h"
#include "switchboard/HostContext.h"
#include "switchboard/Http.h"
#include "switchboard/RateLimiter.h"

namespace switchboard::devices {

class DevicesRoutes {
public:
    DevicesRoutes(std::shared_ptr<const DevicesConfig> config, DeviceRegistry& registry);

    /// Connects the handlers to the running plugin (at start; the host calls handlers only
    /// between start and stop, see Plugin.h). `hostKey` is the OpenSSH public host key line
    /// GET /api/ssh-hostkey serves.
    void bind(HostContext* context, DevicesStore* store, DeviceSync* sync,
              const std::string& hostKey);
    std::vector<Route> routes();

    /// {"ok": ok, "message": message}
    static void reply(HttpResponse& resp, int status, bool ok, std::string_view message);
    /// A failing store (HttpResponse::storeUnavailableBody: 503 with Retry-After) as
    /// {"ok": false, "message": what}.
    static void storeUnavailable(HttpResponse& resp, std::string_view what);

private:
    static std::string replyBody(bool ok, std::string_view message);
    void registerDevice(const HttpRequest& req, HttpResponse& resp);
    /// Audits a limiter that has just started refusing `address` or device `key` ("": none).
    void noteLimits(const std::string& key, const std::string& address);
    void heartbeat(const HttpRequest& req, HttpResponse& resp);
    void hostKey(const HttpRequest& req, HttpResponse& resp);
    void putSshKey(const HttpRequest& req, HttpResponse& resp);
    void deviceDetails(const HttpRequest& req, HttpResponse& resp);

    /// Records a heartbeat (device mutex held by the caller). An offline device comes online
    /// through the store (one node announces it); false, with the response set, if the store
    /// fails or shows the device revoked or unregistered.
    bool applyHeartbeat(Device& device, DeviceInfo&& info, const std::string& address,
                        HttpResponse& resp);
    /// Runs on_device_heartbeat; false (and the response set) if it failed. `merged` receives
    /// the table the hook returned, if any.
    bool runHook(const DeviceRecord& device, const DeviceInfo& info, DeviceInfo& merged,
                 HttpResponse& resp);
    /// 403 for revoked or unregistered devices (device mutex held); true if it may proceed.
    static bool checkRegistered(const Device& device, HttpResponse& resp);
    /// checkRegistered(), after re-reading a revoked or unregistered device from a shared store
    /// (registered again through another node a moment ago?).
    bool mayReport(Device& device, HttpResponse& resp);
    /// 429 with Retry-After if `wait` > 0.
    bool limited(std::int64_t wait, HttpResponse& resp);
    /// The device of the request's {key}, or nullptr with the response set: 429 while the
    /// client address is limited, 404 (counted against the address) for an unknown key, and
    /// with require_device_secret 401 for a missing or wrong X-Device-Secret (counted against
    /// the device and the address) and 429 while the device is limited.
    std::shared_ptr<Device> authorizedDevice(const HttpRequest& req, HttpResponse& resp);

    std::shared_ptr<const DevicesConfig> _config;
    DeviceRegistry& _registry;
    RateLimiter _deviceLimiter;
    RateLimiter _addressLimiter;
    HostContext* _context = nullptr;
    DevicesStore* _store = nullptr;
    DeviceSync* _sync = nullptr;
    std::string _hostKey;
    Counter* _registrations = nullptr;
    Counter* _heartbeats = nullptr;
    Counter* _tokenFailures = nullptr;
    Counter* _rateLimited = nullptr;
    Counter* _sshKeys = nullptr;
};

}  // namespace switchboard::devices
