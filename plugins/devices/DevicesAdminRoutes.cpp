// Admin enrolment endpoints (see DevicesAdminRoutes.h).
#include "DevicesAdminRoutes.h"

#include <Poco/Logger.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "DeviceEvents.h"
#include "switchboard/Audit.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"
#include "switchboard/Paging.h"

namespace switchboard::devices {

namespace {

using json::Writer;
using json::writeString;
using json::writeTimeOrNull;

void writeEntry(Writer& w, const DeviceRecord& d, double now) {
    w.StartObject();
    writeString(w, "device_key", d.key);
    writeString(w, "note", d.note);
    writeTimeOrNull(w, "created_at", d.createdAt);
    w.Key("registered");
    w.Bool(d.registered);
    writeTimeOrNull(w, "registered_at", d.registeredAt);
    w.Key("revoked");
    w.Bool(d.revoked);
    w.Key("online");
    w.Bool(d.online);
    writeTimeOrNull(w, "last_seen", d.lastSeen);
    bool pending = !d.tokenHash.empty() && now < d.tokenExpiresAt;
    w.Key("token_pending");
    w.Bool(pending);
    writeTimeOrNull(w, "token_expires_at", pending ? d.tokenExpiresAt : 0);
    w.Key("device_info");
    w.RawValue(d.deviceInfo.data(), d.deviceInfo.size(), rapidjson::kObjectType);
    w.Key("ssh_pubkey");
    if (d.sshPubkey.empty()) {
        w.Null();
    } else {
        w.String(d.sshPubkey.data(), static_cast<rapidjson::SizeType>(d.sshPubkey.size()));
    }
    w.EndObject();
}

std::string text(const rapidjson::StringBuffer& buffer) {
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

DevicesAdminRoutes::DevicesAdminRoutes(std::shared_ptr<const DevicesConfig> config,
                                       DeviceRegistry& registry)
    : _config(std::move(config)), _registry(registry) {}

void DevicesAdminRoutes::bind(HostContext* context, DevicesStore* store, DeviceSync* sync) {
    if (context != nullptr) {
        _enrolled = &context->metrics().counter("enrolled_total", "Devices enrolled");
        _revoked = &context->metrics().counter("revoked_total", "Devices revoked");
    }
    _store = store;
    _sync = sync;
    _context = context;
}

std::vector<Route> DevicesAdminRoutes::routes() {
    auto handler = [this](void (DevicesAdminRoutes::*method)(const HttpRequest&, HttpResponse&)) {
        return [this, method](const HttpRequest& req, HttpResponse& resp) {
            (this->*method)(req, resp);
        };
    };
    Schema token = Schema::object({{"device_key", Schema::string()},
                                   {"token_code", Schema::string("shown once: 6 hex digits")},
                                   {"token_expires_at", Schema::time()}});
    Schema entry = Schema::object({{"device_key", Schema::string()},
                                   {"note", Schema::string()},
                                   {"created_at", Schema::time().orNull()},
                                   {"registered", Schema::boolean()},
                                   {"registered_at", Schema::time().orNull()},
                                   {"revoked", Schema::boolean()},
                                   {"online", Schema::boolean()},
                                   {"last_seen", Schema::time().orNull()},
                                   {"token_pending", Schema::boolean()},
                                   {"token_expires_at", Schema::time().orNull()},
                                   {"device_info", Schema::anyObject()},
                                   {"ssh_pubkey", Schema::string().orNull()}});
    return {
        {"POST", "", handler(&DevicesAdminRoutes::create), false,
         RouteDoc("Enrols a device and issues its one-time registration token")
             .body(Schema::object(
                       {optional("device_key", Schema::string("1-128 of A-Z a-z 0-9 . _ -; "
                                                              "generated when absent")),
                        optional("note", Schema::string())}),
                   false)
             .answer(201, "enrolled", token)
             .error(400, "a field is invalid (the message names it)")
             .error(409, "device already exists")
             .error(503, "cannot store the device (Retry-After)")},
        {"GET", "", handler(&DevicesAdminRoutes::list), false,
         RouteDoc("The enrolled devices in key order, a page at a time")
             .paged(entry, "the device key or the note")
             .error(503, "cannot read the devices (nodes sharing a store; Retry-After)")},
        {"GET", "/{key}", handler(&DevicesAdminRoutes::show), false,
         RouteDoc("One device").answer(200, "the device", entry).error(404, "device not found")},
        {"POST", "/{key}/token", handler(&DevicesAdminRoutes::newToken), false,
         RouteDoc("Issues a new registration token (replaces a pending one)")
             .answer(200, "the new token", token)
             .error(404, "device not found")
             .error(503, "cannot store the token (Retry-After)")},
        {"DELETE", "/{key}", handler(&DevicesAdminRoutes::revoke), false,
         RouteDoc("Revokes the device: unregistered, no token, no SSH key")
             .answer(
                 200, "revoked (also when it already was)",
                 Schema::object({{"device_key", Schema::string()}, {"revoked", Schema::boolean()}}))
             .error(404, "device not found")
             .error(503, "cannot store the revocation (Retry-After)")}};
}

std::vector<AdminView> DevicesAdminRoutes::views() {
    // The token is shown once: only its hash is stored.
    ViewAction enrol{"Enrol device",
                     "POST",
                     "",
                     "view",
                     "",
                     {{"device_key", "Device key (empty: generated)"}, {"note", "Note"}},
                     {"device_key", "token_code"}};
    return {{"devices",
             "Devices",
             "",
             {{"device_key", "Device"},
              {"note", "Note"},
              {"online", "Online", "bool"},
              {"last_seen", "Last seen", "time"},
              {"registered", "Registered", "bool"},
              {"token_pending", "Token pending", "bool"},
              {"revoked", "Revoked", "bool"},
              {"device_info.ip_address", "Address"}},
             {enrol,
              {"New token",
               "POST",
               "/{device_key}/token",
               "row",
               "Issue a new one-time token for this device?",
               {},
               {"token_code"}},
              {"Revoke", "DELETE", "/{device_key}", "row",
               "Revoke this device? It can no longer report or register."}},
             true,
             true}};
}

bool DevicesAdminRoutes::validKey(const std::string& key) {
    if (key.empty() || key.size() > 128) {
        return false;
    }
    return std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

std::string DevicesAdminRoutes::issueToken(Device& device, double now, bool persist) {
    std::string code = DeviceTokens::generate();
    DeviceTokens::Hash hash = DeviceTokens::hash(device.key, code);
    double expires = now + static_cast<double>(_config->tokenTtl.count()) / 1000.0;
    if (persist) {
        _store->setToken(device.key, DeviceTokens::toHex(hash), expires);
    }
    device.tokenHash = hash;
    device.hasToken = true;
    device.tokenExpiresAt = expires;
    return code;
}

std::string DevicesAdminRoutes::tokenBody(const Device& device, const std::string& code) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    writeString(w, "device_key", device.key);
    writeString(w, "token_code", code);
    writeTimeOrNull(w, "token_expires_at", device.tokenExpiresAt);
    w.EndObject();
    return text(buffer);
}

void DevicesAdminRoutes::create(const HttpRequest& req, HttpResponse& resp) {
    rapidjson::Document body;
    std::string error;
    std::string key;
    std::string note;
    if (!json::readBody(req, body, resp, json::BlankBody::EmptyObject)) {
        return;
    }
    if (!json::optionalString(body, "device_key", key, error) ||
        !json::optionalString(body, "note", note, error)) {
        resp.error(400, error);
        return;
    }
    bool generated = !body.HasMember("device_key") || body["device_key"].IsNull();
    if (!generated && !validKey(key)) {
        resp.error(400, "device_key must be 1-128 characters: letters, digits, '.', '_', '-'");
        return;
    }
    if (note.size() > _config->maxFieldLength) {
        resp.error(
            400, "note is too long (limit " + std::to_string(_config->maxFieldLength) + " bytes)");
        return;
    }
    if (note.find('\0') != std::string::npos) {
        resp.error(400, "note must not contain NUL characters");
        return;
    }
    std::lock_guard<std::mutex> lock(_createMutex);
    if (generated) {
        do {
            key = DeviceTokens::generateDeviceKey();
        } while (_sync->find(key));
    } else if (_sync->find(key)) {
        resp.error(409, "device already exists");
        return;
    }
    double now = epochSeconds();
    std::shared_ptr<Device> device;
    std::string code;
    try {
        for (int attempt = 1;; ++attempt) {
            // On a shared store the ids other nodes gave out are there, not in memory.
            std::int64_t id = _registry.maxId();
            if (_sync->shared()) {
                id = std::max(id, _store->maxId());
            }
            device = std::make_shared<Device>(id + 1, key);
            device->note = note;
            device->createdAt = now;
            code = issueToken(*device, now, false);
            try {
                _store->insert(device->snapshot());  // durable before anyone sees the token
                break;
            } catch (const std::exception&) {
                // Another node sharing the store took this id (try the next) or this key.
                if (!_sync->shared() || attempt == 8) {
                    throw;
                }
                if (_store->byKey(key)) {
                    resp.error(409, "device already exists");
                    return;
                }
            }
        }
    } catch (const std::exception& e) {
        _context->logger().error("cannot store device %s: %s", key, std::string(e.what()));
        resp.storeUnavailable("cannot store the device");
        return;
    }
    _registry.insert(device);
    _enrolled->inc();
    _context->logger().information("device %s enrolled", key);
    recordAudit(*_context, "admin", req.clientAddress(), "device.token_created",
                "{\"device_key\":" + json::quote(key) + ",\"enrolled\":true}");
    resp.json(201, tokenBody(*device, code));
}

void DevicesAdminRoutes::newToken(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<Device> device = _sync->find(req.param("key"));
    if (!device) {
        resp.error(404, "device not found");
        return;
    }
    std::lock_guard<std::mutex> lock(device->mutex);
    std::string code;
    try {
        code = issueToken(*device, epochSeconds(), true);
    } catch (const std::exception& e) {
        _context->logger().error("cannot store a token for %s: %s", device->key,
                                 std::string(e.what()));
        resp.storeUnavailable("cannot store the token");
        return;
    }
    _context->logger().information("new registration token for device %s", device->key);
    recordAudit(*_context, "admin", req.clientAddress(), "device.token_created",
                "{\"device_key\":" + json::quote(device->key) + ",\"enrolled\":false}");
    resp.json(200, tokenBody(*device, code));
}

void DevicesAdminRoutes::list(const HttpRequest& req, HttpResponse& resp) {
    PageQuery page;
    if (!PageQuery::read(req, resp, page)) {
        return;
    }
    if (_sync->shared()) {
        listShared(page, resp);
        return;
    }
    std::function<bool(Device&)> match;
    if (!page.q.empty()) {
        match = [&page](Device& d) {
            if (page.matches(d.key)) {
                return true;
            }
            std::lock_guard<std::mutex> lock(d.mutex);
            return page.matches(d.note);
        };
    }
    std::size_t total = 0;
    std::vector<std::shared_ptr<Device>> devices =
        _registry.page(page.offset, page.limit, match, total);
    double now = epochSeconds();
    resp.json(200, page.body([&](Writer& w) {
        for (const auto& device : devices) {
            writeEntry(w, device->snapshot(), now);
        }
        return total;
    }));
}

void DevicesAdminRoutes::listShared(const PageQuery& page, HttpResponse& resp) {
    std::size_t total = 0;
    std::vector<DeviceRecord> records;
    try {
        records = _store->page(page.likePattern(), page.limit, page.offset, total);
    } catch (const std::exception& e) {
        _context->logger().error("cannot list devices: %s", std::string(e.what()));
        resp.storeUnavailable("cannot read the devices");
        return;
    }
    for (DeviceRecord& r : records) {
        // This node's heartbeats of the last flush interval are not stored yet.
        if (std::shared_ptr<Device> device = _registry.find(r.key)) {
            std::lock_guard<std::mutex> lock(device->mutex);
            double seen = device->lastSeen.load(std::memory_order_relaxed);
            if (r.registered && !r.revoked && device->registered &&
                device->registeredAt == r.registeredAt && seen > r.lastSeen) {
                r.lastSeen = seen;
                r.deviceInfo = device->info.json();
            }
        }
    }
    double now = epochSeconds();
    resp.json(200, page.body([&](Writer& w) {
        for (const DeviceRecord& r : records) {
            writeEntry(w, r, now);
        }
        return total;
    }));
}

void DevicesAdminRoutes::show(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<Device> device = _sync->find(req.param("key"));
    if (!device) {
        resp.error(404, "device not found");
        return;
    }
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        _sync->refreshForRead(*device);  // what other nodes changed and stored
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    writeEntry(w, device->snapshot(), epochSeconds());
    resp.json(200, text(buffer));
}

void DevicesAdminRoutes::revoke(const HttpRequest& req, HttpResponse& resp) {
    std::shared_ptr<Device> device = _sync->find(req.param("key"));
    if (!device) {
        resp.error(404, "device not found");
        return;
    }
    HostContext* context = _context;
    bool wasOnline = false;
    double lastSeen = 0;
    {
        std::lock_guard<std::mutex> lock(device->mutex);
        _sync->refreshForRead(*device);  // the last_seen and device_info other nodes stored
        lastSeen = device->lastSeen.load();
        try {
            // The store says whether it was online: one node announces its going offline.
            wasOnline = _store->revoke(*device, lastSeen, device->info.json());
        } catch (const std::exception& e) {
            context->logger().error("cannot revoke device %s: %s", device->key,
                                    std::string(e.what()));
            resp.storeUnavailable("cannot store the revocation");
            return;
        }
        bool wasRevoked = device->revoked;
        device->revoked = true;
        _registry.setRegistered(*device, false);
        device->registeredAt = 0;
        device->hasToken = false;
        device->tokenHash.fill(0);
        device->tokenExpiresAt = 0;
        device->sshPubkey.clear();
        device->hasSecret = false;
        device->secretHash.fill(0);
        _registry.markOffline(*device);
        if (!wasRevoked) {
            _revoked->inc();
        }
    }
    context->bus().publish("device.revoked", DeviceEvents::revoked(device->key));
    if (wasOnline) {
        context->bus().publish("device.offline", DeviceEvents::offline(device->key, lastSeen));
    }
    context->logger().information("device %s revoked", device->key);
    recordAudit(*context, "admin", req.clientAddress(), "device.revoked",
                "{\"device_key\":" + json::quote(device->key) + "}");
    resp.json(200, "{\"device_key\":" + json::quote(device->key) + ",\"revoked\":true}");
}

}  // namespace switchboard::devices
