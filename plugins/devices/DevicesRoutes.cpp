// Meeting device endpoints (see DevicesRoutes.h). Messages follow seed 004: "Device not found"
// (404), "Invalid token" (401), "Already registered" (409); the rest are documented in
// docs/plugins/devices.md.
#include "DevicesRoutes.h"

#include <Poco/Logger.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "DeviceEvents.h"
#include "SshPublicKey.h"
#include "switchboard/Audit.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::devices {

namespace {

using json::Writer;
using json::writeString;
using json::writeTimeOrNull;

/// Longer than any OpenSSH public key line (a 16384-bit RSA key is ~2.8 KB).
constexpr std::size_t kMaxPubkeyLength = 16384;

constexpr const char* kHeartbeatOk = "{\"ok\":true,\"message\":\"Heartbeat received\"}";

}  // namespace

DevicesRoutes::DevicesRoutes(std::shared_ptr<const DevicesConfig> config, DeviceRegistry& registry)
    : _config(std::move(config)),
      _registry(registry),
      _deviceLimiter(_config->failedTokensPerDevice, 0, _config->rateWindow),
      _addressLimiter(_config->failedTokensPerAddress, 0, _config->rateWindow) {}

void DevicesRoutes::bind(HostContext* context, DevicesStore* store, DeviceSync* sync,
                         const std::string& hostKey) {
    if (context != nullptr) {
        Metrics& m = context->metrics();
        _registrations = &m.counter("registrations_total", "Successful device registrations");
        _heartbeats = &m.counter("heartbeats_total", "Heartbeats recorded");
        _tokenFailures = &m.counter("token_failures_total",
                                    "Registration attempts refused with 401 Invalid token");
        _rateLimited = &m.counter("rate_limited_total", "Registration attempts refused with 429");
        _sshKeys = &m.counter("ssh_keys_total", "Device SSH keys stored");
        _hostKey = hostKey;
    }
    _store = store;
    _sync = sync;
    _context = context;
}

std::vector<Route> DevicesRoutes::routes() {
    auto handler = [this](void (DevicesRoutes::*method)(const HttpRequest&, HttpResponse&)) {
        return [this, method](const HttpRequest& req, HttpResponse& resp) {
            (this->*method)(req, resp);
        };
    };
    // Every answer of this API is {"ok": ..., "message": ...} (seed 004).
    Schema reply = Schema::object({{"ok", Schema::boolean()}, {"message", Schema::string()}});
    Schema info = Schema::object(
        {optional("ip_address", Schema::string("default: the client address")),
         optional("ip_lan", Schema::string()), optional("ip_public", Schema::string()),
         optional("mac", Schema::string()), optional("cluster_ip", Schema::string()),
         optional("note", Schema::string())},
        "every field optional, at most max_field_length bytes");
    auto refused = [&reply](RouteDoc doc) {
        return doc.error(400, "the body or a field is invalid (the message names it)", reply)
            .error(404, "Device not found", reply)
            .error(429,
                   "Too many failed attempts; retry later (Retry-After): this address failed "
                   "too often and the device is not one it serves, or (require_device_secret) "
                   "this device did",
                   reply);
    };
    auto guarded = [&reply](RouteDoc doc) {
        return doc.error(401,
                         "Device secret required, or Invalid device secret "
                         "(require_device_secret: the X-Device-Secret header)",
                         reply);
    };
    return {
        {"POST", "/api/devices/{key}/register", handler(&DevicesRoutes::registerDevice), false,
         refused(RouteDoc("Registers an enrolled device with its one-time token")
                     .body(Schema::object({{"token_code", Schema::string("6 hex digits, any case")},
                                           optional("device_info", info)}),
                           false)
                     .answer(200, "Device registered (the token is burned)",
                             Schema::object({{"ok", Schema::boolean()},
                                             {"message", Schema::string()},
                                             {"device_key", Schema::string()},
                                             optional("device_secret",
                                                      Schema::string("32 hex digits; only with "
                                                                     "require_device_secret"))})))
             .error(401, "Invalid token (wrong, expired, used or none pending)", reply)
             .error(409, "Already registered", reply)
             .error(503, "cannot store the registration (Retry-After)", reply)},
        {"POST", "/api/devices/{key}/online", handler(&DevicesRoutes::heartbeat), false,
         guarded(refused(RouteDoc("Heartbeat: the device is online; the fields sent are merged")
                             .body(info, false)
                             .answer(200, "Heartbeat received", reply)))
             .error(403, "Device revoked, or Device not registered", reply)
             .error(500, "heartbeat hook failed", reply)
             .error(503,
                    "cannot store the heartbeat: an offline device's comes online in the store "
                    "(Retry-After)",
                    reply)},
        {"GET", "/api/ssh-hostkey", handler(&DevicesRoutes::hostKey), false,
         RouteDoc("The server's SSH host key (one OpenSSH public key line)")
             .answerOfType(200, "the key line", "text/plain")},
        {"PUT", "/api/devices/{key}/ssh-key", handler(&DevicesRoutes::putSshKey), false,
         guarded(refused(RouteDoc("Stores the device's SSH public key (replaces the previous one)")
                             .body(Schema::object(
                                 {{"pubkey", Schema::string("an OpenSSH public key line")}}))
                             .answer(200, "SSH key stored", reply)))
             .error(403, "Device revoked, or Device not registered", reply)
             .error(503, "cannot store the SSH key (Retry-After)", reply)},
        {"GET", "/api/devices/{key}", handler(&DevicesRoutes::deviceDetails), false,
         guarded(refused(RouteDoc("The device's registration, online state and info")
                             .answer(200, "Device found",
                                     Schema::object({{"ok", Schema::boolean()},
                                                     {"message", Schema::string()},
                                                     {"device_key", Schema::string()},
                                                     {"registered", Schema::boolean()},
                                                     {"registered_at", Schema::time().orNull()},
                                                     {"last_seen", Schema::time().orNull()},
                                                     {"online", Schema::boolean()},
                                                     {"device_info", Schema::anyObject()},
                                                     {"ssh_pubkey", Schema::string().orNull()}}))))
             .error(403, "Device revoked", reply)}};
}

std::string DevicesRoutes::replyBody(bool ok, std::string_view message) {
    return std::string("{\"ok\":") + (ok ? "true" : "false") +
           ",\"message\":" + json::quote(message) + "}";
}

void DevicesRoutes::reply(HttpResponse& resp, int status, bool ok, std::string_view message) {
    resp.json(status, replyBody(ok, message));
}

void DevicesRoutes::storeUnavailable(HttpResponse& resp, std::string_view what) {
    resp.storeUnavailableBody(replyBody(false, what));
}

bool DevicesRoutes::limited(std::int64_t wait, HttpResponse& resp) {
    if (wait <= 0) {
        return false;
    }
    _rateLimited->inc();
    resp.setHeader("Retry-After", std::to_string(wait));
    reply(resp, 429, false, "Too many failed attempts; retry later");
    return true;
}

std::shared_ptr<Device> DevicesRoutes::authorizedDevice(const HttpRequest& req,
                                                        HttpResponse& resp) {
    const std::string address = req.clientAddress();
    const std::string key = req.param("key");
    std::shared_ptr<Device> device = _registry.find(key);
    if (std::int64_t wait = _addressLimiter.retryAfter(address); wait > 0) {
        // A limited address may still reach the devices it serves (their heartbeats come
        // from it), never others: no answer tells it which other keys exist, and the devices
        // behind a shared address do not go dark because one of them (or a neighbour) guessed.
        bool serves = false;
        if (device) {
            std::lock_guard<std::mutex> lock(device->mutex);
            serves = device->lastAddress == address;
        }
        if (!serves) {
            limited(wait, resp);
            return nullptr;
        }
    }
    if (!device) {
        device = _sync->find(key);  // enrolled through another node sharing the store?
    }
    if (!device) {
        _addressLimiter.fail(address);  // walking device keys counts as guessing
        reply(resp, 404, false, "Device not found");
        return nullptr;
    }
    if (!_config->requireDeviceSecret) {
        return device;
    }
    if (limited(_deviceLimiter.retryAfter(key), resp)) {
        return nullptr;
    }
    const std::string secret = req.header("X-Device-Secret");
    if (secret.empty()) {
        reply(resp, 401, false, "Device secret required");
        return nullptr;
    }
    DeviceTokens::Hash presented = DeviceTokens::hash(key, secret);
    bool valid = false;
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        valid = device->hasSecret && DeviceTokens::equal(presented, device->secretHash);
    }
    if (!valid) {
        _deviceLimiter.fail(key);
        _addressLimiter.fail(address);
        _tokenFailures->inc();
        reply(resp, 401, false, "Invalid device secret");
        return nullptr;
    }
    return device;
}

bool DevicesRoutes::mayReport(Device& device, HttpResponse& resp) {
    if ((device.revoked || !device.registered) && _sync->shared()) {
        try {
            _sync->refresh(device);
        } catch (const std::exception& e) {
            _context->logger().warning("cannot re-read device %s: %s", device.key,
                                       std::string(e.what()));
        }
    }
    return checkRegistered(device, resp);
}

bool DevicesRoutes::checkRegistered(const Device& device, HttpResponse& resp) {
    if (device.revoked) {
        reply(resp, 403, false, "Device revoked");
        return false;
    }
    if (!device.registered) {
        reply(resp, 403, false, "Device not registered");
        return false;
    }
    return true;
}

void DevicesRoutes::noteLimits(const std::string& key, const std::string& address) {
    // Called after a failure was counted: a wait now means this failure started the refusal
    // (later attempts are refused before they count), so each refusal is recorded once.
    if (std::int64_t wait = _addressLimiter.retryAfter(address)) {
        recordAudit(*_context, "anonymous", address, "device.token_limited",
                    "{\"by\":\"address\",\"retry_after\":" + std::to_string(wait) + "}");
    }
    if (!key.empty()) {
        if (std::int64_t wait = _deviceLimiter.retryAfter(key)) {
            recordAudit(*_context, "anonymous", address, "device.token_limited",
                        "{\"by\":\"device\",\"device_key\":" + json::quote(key) +
                            ",\"retry_after\":" + std::to_string(wait) + "}");
        }
    }
}

void DevicesRoutes::registerDevice(const HttpRequest& req, HttpResponse& resp) {
    const std::string address = req.clientAddress();
    if (limited(_addressLimiter.retryAfter(address), resp)) {
        return;
    }
    rapidjson::Document body;
    std::string error;
    std::string token;
    DeviceInfo info;
    if (!json::parseBody(req, body, error, json::BlankBody::EmptyObject) ||
        !json::requireString(body, "token_code", token, error) ||
        !info.readRequest(body, _config->maxFieldLength, error)) {
        reply(resp, 400, false, error);
        return;
    }
    // device_info may come as an object (the seed client) or as top-level fields; both merge.
    if (auto it = body.FindMember("device_info"); it != body.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsObject()) {
            reply(resp, 400, false, "device_info must be an object");
            return;
        }
        DeviceInfo nested;
        if (!nested.readRequest(it->value, _config->maxFieldLength, error)) {
            reply(resp, 400, false, "device_info." + error);
            return;
        }
        info.merge(nested);
    }
    if (!info.has("ip_address")) {
        info.setString("ip_address", address);
    }
    const std::string ipAddress = info.text("ip_address");
    const std::string key = req.param("key");
    std::shared_ptr<Device> device = _sync->find(key);
    if (!device) {
        _addressLimiter.fail(address);  // walking device keys counts as guessing
        noteLimits("", address);
        reply(resp, 404, false, "Device not found");
        return;
    }
    if (limited(_deviceLimiter.retryAfter(key), resp)) {
        return;
    }
    std::string code;
    bool wellFormed = DeviceTokens::normalize(token, code);
    DeviceTokens::Hash presented = DeviceTokens::hash(key, code);
    HostContext* context = _context;
    double now = epochSeconds();
    bool cameOnline = false;
    std::string secret;
    DeviceTokens::Hash secretHash{};
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        if (_sync->shared()) {
            // A token issued, burned or revoked through another node is in the store only.
            try {
                _sync->refresh(*device);
            } catch (const std::exception& e) {
                context->logger().error("cannot read the registration of %s: %s", key,
                                        std::string(e.what()));
                storeUnavailable(resp, "cannot store the registration");
                return;
            }
        }
        if (device->registered && !device->hasToken) {
            reply(resp, 409, false, "Already registered");
            return;
        }
        bool valid = device->hasToken && now < device->tokenExpiresAt &&
                     DeviceTokens::equal(presented, device->tokenHash) && wellFormed;
        if (!valid) {
            // Wrong guesses are counted, never held against the token itself.
            _deviceLimiter.fail(key);
            _addressLimiter.fail(address);
            noteLimits(key, address);
            _tokenFailures->inc();
            reply(resp, 401, false, "Invalid token");
            return;
        }
        // The secret exists only in the strict mode: by default the reply is the seed's.
        if (_config->requireDeviceSecret) {
            secret = DeviceTokens::generateSecret();
            secretHash = DeviceTokens::hash(key, secret);
        }
        DevicesStore::Registration stored;
        try {
            stored = _store->registerDevice(*device, now, info.json(),
                                            secret.empty() ? "" : DeviceTokens::toHex(secretHash),
                                            DeviceTokens::toHex(presented));
            if (!stored.burned) {
                // Another node sharing the store burned or replaced the token since it was
                // read: what it did decides the answer, as if it had come first here.
                _sync->refresh(*device);
            }
        } catch (const std::exception& e) {
            context->logger().error("cannot store the registration of %s: %s", key,
                                    std::string(e.what()));
            storeUnavailable(resp, "cannot store the registration");
            return;
        }
        if (!stored.burned) {
            bool already = device->registered && !device->hasToken;
            reply(resp, already ? 409 : 401, false,
                  already ? "Already registered" : "Invalid token");
            return;
        }
        device->hasToken = false;
        device->tokenHash.fill(0);
        device->tokenExpiresAt = 0;
        device->revoked = false;
        _registry.setRegistered(*device, true);
        device->registeredAt = now;
        device->info = info;
        device->sshPubkey.clear();
        device->secretHash = secretHash;
        device->hasSecret = !secret.empty();
        device->lastAddress = address;
        _registry.markSeen(*device, now);
        cameOnline = stored.cameOnline;
    }
    _registrations->inc();
    context->bus().publish("device.registered", DeviceEvents::registered(key, now, ipAddress));
    if (cameOnline) {
        context->bus().publish("device.online", DeviceEvents::online(key, ipAddress, now));
    }
    context->logger().information("device %s registered from %s", key, address);
    recordAudit(*context, "device:" + key, address, "device.token_burned",
                "{\"device_key\":" + json::quote(key) + "}");
    // The secret is shown only here (the server keeps its hash).
    std::string reply =
        "{\"ok\":true,\"message\":\"Device registered\",\"device_key\":" + json::quote(key);
    if (!secret.empty()) {
        reply += ",\"device_secret\":" + json::quote(secret);
    }
    resp.json(200, reply + "}");
}

void DevicesRoutes::heartbeat(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<Device> device = authorizedDevice(req, resp);
    if (!device) {
        return;
    }
    // Heartbeat bodies are small: parse them into stack memory.
    char buffer[4096];
    rapidjson::MemoryPoolAllocator<> allocator(buffer, sizeof buffer);
    rapidjson::Document body(&allocator);
    std::string error;
    DeviceInfo info;
    if (!json::parseBody(req, body, error, json::BlankBody::EmptyObject) ||
        !info.readRequest(body, _config->maxFieldLength, error)) {
        reply(resp, 400, false, error);
        return;
    }
    std::string address;
    if (auto it = body.FindMember("ip_address"); it != body.MemberEnd() && it->value.IsString()) {
        address.assign(it->value.GetString(), it->value.GetStringLength());
    } else {
        address = req.clientAddress();
        info.setString("ip_address", address);
    }
    HostContext* context = _context;
    static const std::string kHook = "on_device_heartbeat";
    if (!context->lua().hasHook(kHook)) {
        std::lock_guard<std::mutex> lock(device->mutex);
        if (!mayReport(*device, resp)) {
            return;
        }
        device->lastAddress = req.clientAddress();
        if (applyHeartbeat(*device, std::move(info), address, resp)) {
            resp.json(200, kHeartbeatOk);
        }
        return;
    }
    // With a hook: the hook runs without the device's mutex (it may take a while), and the
    // state is checked again before the heartbeat is applied.
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        if (!mayReport(*device, resp)) {
            return;
        }
    }
    DeviceRecord before = device->snapshot();
    DeviceInfo merged = info;
    if (!runHook(before, info, merged, resp)) {
        return;
    }
    std::lock_guard<std::mutex> lock(device->mutex);
    if (!checkRegistered(*device, resp)) {
        return;
    }
    device->lastAddress = req.clientAddress();
    if (applyHeartbeat(*device, std::move(merged), address, resp)) {
        resp.json(200, kHeartbeatOk);
    }
}

bool DevicesRoutes::applyHeartbeat(Device& device, DeviceInfo&& info, const std::string& address,
                                   HttpResponse& resp) {
    double now = epochSeconds();
    DevicesStore* store = _store;
    bool announce = false;
    // Offline here: the store decides (the one write a heartbeat makes at once), so that of
    // several nodes hearing from the device one announces device.online. A second try follows
    // a registration this node had not seen yet.
    for (int attempt = 0; attempt < 2 && !device.online.load(std::memory_order_relaxed);
         ++attempt) {
        try {
            if (store->comeOnline(device, now)) {
                announce = true;
                break;
            }
            _sync->refresh(device);  // online through another node, or registered anew
        } catch (const std::exception& e) {
            _context->logger().error("cannot store the heartbeat of %s: %s", device.key,
                                     std::string(e.what()));
            storeUnavailable(resp, "cannot store the heartbeat");
            return false;
        }
        if (!checkRegistered(device, resp)) {
            return false;
        }
    }
    bool changed = device.info.merge(std::move(info));
    _registry.markSeen(device, now);
    store->heartbeat(device, now, device.registeredAt);
    if (changed) {
        store->deviceInfo(device.key, device.info.json(), device.registeredAt);
    }
    _heartbeats->inc();
    if (announce) {
        _context->bus().publish("device.online", DeviceEvents::online(device.key, address, now));
    }
    return true;
}

bool DevicesRoutes::runHook(const DeviceRecord& d, const DeviceInfo& info, DeviceInfo& merged,
                            HttpResponse& resp) {
    rapidjson::Document device(rapidjson::kObjectType);
    auto& a = device.GetAllocator();
    device.AddMember("device_key", rapidjson::Value(d.key.c_str(), a), a);
    device.AddMember("note", rapidjson::Value(d.note.c_str(), a), a);
    device.AddMember("registered_at", d.registeredAt, a);
    if (d.lastSeen > 0) {
        device.AddMember("last_seen", d.lastSeen, a);
    }
    device.AddMember("online", d.online, a);
    rapidjson::Document stored;
    stored.Parse(d.deviceInfo.c_str());
    device.AddMember("device_info", rapidjson::Value(stored, a), a);
    rapidjson::Document fields;
    fields.Parse(info.json().c_str());
    HostContext* context = _context;
    LuaResult result = context->lua().call("on_device_heartbeat", {&device, &fields});
    if (!result.ok) {
        context->logger().error("on_device_heartbeat failed: %s", result.error);
        reply(resp, 500, false, "heartbeat hook failed");
        return false;
    }
    if (result.values.Size() > 0 && result.values[0].IsObject()) {
        merged.mergeObject(result.values[0]);
    }
    return true;
}

void DevicesRoutes::hostKey(const HttpRequest&, HttpResponse& resp) {
    resp.setStatus(200);
    resp.setBody(_hostKey + "\n", "text/plain; charset=utf-8");
}

void DevicesRoutes::putSshKey(const HttpRequest& req, HttpResponse& resp) {
    const std::string key = req.param("key");
    std::shared_ptr<Device> device = authorizedDevice(req, resp);
    if (!device) {
        return;
    }
    rapidjson::Document body;
    std::string error;
    std::string pubkey;
    if (!json::parseBody(req, body, error, json::BlankBody::EmptyObject) ||
        !json::requireString(body, "pubkey", pubkey, error)) {
        reply(resp, 400, false, error);
        return;
    }
    if (pubkey.size() > kMaxPubkeyLength) {
        reply(resp, 400, false,
              "pubkey is too long (limit " + std::to_string(kMaxPubkeyLength) + " bytes)");
        return;
    }
    std::string normalized;
    if (!SshPublicKey::validate(pubkey, normalized, error)) {
        reply(resp, 400, false, error);
        return;
    }
    std::lock_guard<std::mutex> lock(device->mutex);
    if (!mayReport(*device, resp)) {
        return;
    }
    try {
        _store->setSshKey(key, normalized);
    } catch (const std::exception& e) {
        _context->logger().error("cannot store the SSH key of %s: %s", key, std::string(e.what()));
        storeUnavailable(resp, "cannot store the SSH key");
        return;
    }
    device->sshPubkey = normalized;
    _sshKeys->inc();
    reply(resp, 200, true, "SSH key stored");
}

void DevicesRoutes::deviceDetails(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<Device> device = authorizedDevice(req, resp);
    if (!device) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        _sync->refreshForRead(*device);  // another node's heartbeats, SSH key, revocation
    }
    DeviceRecord d = device->snapshot();
    if (d.revoked) {
        reply(resp, 403, false, "Device revoked");
        return;
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("ok");
    w.Bool(true);
    writeString(w, "message", "Device found");
    writeString(w, "device_key", d.key);
    w.Key("registered");
    w.Bool(d.registered);
    writeTimeOrNull(w, "registered_at", d.registeredAt);
    writeTimeOrNull(w, "last_seen", d.lastSeen);
    w.Key("online");
    w.Bool(d.online);
    w.Key("device_info");
    w.RawValue(d.deviceInfo.data(), d.deviceInfo.size(), rapidjson::kObjectType);
    w.Key("ssh_pubkey");
    if (d.sshPubkey.empty()) {
        w.Null();
    } else {
        w.String(d.sshPubkey.data(), static_cast<rapidjson::SizeType>(d.sshPubkey.size()));
    }
    w.EndObject();
    resp.json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace switchboard::devices
