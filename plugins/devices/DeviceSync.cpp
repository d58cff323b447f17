// Cross-node state of the devices plugin (see DeviceSync.h).
#include "DeviceSync.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <unordered_map>

#include "DeviceEvents.h"
#include "switchboard/Json.h"

namespace switchboard::devices {

DeviceSync::DeviceSync(DeviceRegistry& registry, DevicesStore& store, HostContext& context)
    : _registry(registry),
      _store(store),
      _context(context),
      _shared(context.store().backend() != "sqlite") {}

std::shared_ptr<Device> DeviceSync::find(const std::string& key) {
    std::shared_ptr<Device> device = _registry.find(key);
    if (device || !_shared) {
        return device;  // alone on the store, memory holds every device
    }
    try {
        std::optional<DeviceRecord> stored = _store.byKey(key);
        return stored ? _registry.adopt(*stored) : nullptr;
    } catch (const std::exception& e) {
        _context.logger().warning("cannot look device %s up in the store: %s", key,
                                  std::string(e.what()));
        return nullptr;
    }
}

void DeviceSync::refresh(Device& device) {
    if (std::optional<DeviceRecord> stored = _store.byKey(device.key)) {
        _registry.apply(device, *stored);
    }
}

void DeviceSync::refreshForRead(Device& device) {
    if (!_shared) {
        return;
    }
    try {
        refresh(device);
    } catch (const std::exception& e) {
        _context.logger().warning(
            "cannot read device %s from the store (answering from memory): %s", device.key,
            std::string(e.what()));
    }
}

void DeviceSync::subscribe() {
    // Every durable change of a device that another node makes is one of these events (enrolment,
    // new tokens and SSH keys are read from the store when they are used); the row is re-read.
    for (const char* topic :
         {"device.registered", "device.revoked", "device.online", "device.offline"}) {
        _context.bus().subscribe(topic, [this](const Event& e) {
            if (!e.origin.empty()) {
                onRemote(e.payload);
            }
        });
    }
    _context.bus().subscribe("bus.reconnected", [this](const Event&) { reloadAll(); });
}

void DeviceSync::onRemote(const std::string& payload) {
    rapidjson::Document d;
    std::string error;
    if (!json::parseObject(payload, d, error) || !d.HasMember("device_key") ||
        !d["device_key"].IsString()) {
        return;
    }
    const std::string key = d["device_key"].GetString();
    std::shared_ptr<Device> known = _registry.find(key);
    if (!known) {
        find(key);  // read fresh from the store
        return;
    }
    std::lock_guard<std::mutex> lock(known->mutex);
    try {
        refresh(*known);
    } catch (const std::exception& e) {
        _context.logger().warning("cannot re-read device %s after another node's event: %s", key,
                                  std::string(e.what()));
    }
}

void DeviceSync::reloadAll() {
    try {
        _store.forEach([this](DeviceRecord&& record) {
            std::shared_ptr<Device> device = _registry.find(record.key);
            if (!device) {
                _registry.adopt(record);
                return;
            }
            std::lock_guard<std::mutex> lock(device->mutex);
            _registry.apply(*device, record);
        });
    } catch (const std::exception& e) {
        _context.logger().warning("cannot reload devices after the bus reconnected: %s",
                                  std::string(e.what()));
    }
}

std::size_t DeviceSync::expire(double cutoff) {
    std::vector<std::shared_ptr<Device>> candidates = _registry.candidates(cutoff);
    if (candidates.empty()) {
        return 0;
    }
    // Shared: devices that beat through other nodes look quiet here. One read of all candidates
    // moves their last_seen on, so only the truly quiet ones cost a conditional update.
    std::unordered_map<std::int64_t, DeviceRecord> stored;
    if (_shared) {
        std::vector<std::int64_t> ids;
        for (const auto& device : candidates) {
            ids.push_back(device->id);
        }
        try {
            for (DeviceRecord& r : _store.byIds(ids)) {
                stored.emplace(r.id, std::move(r));
            }
        } catch (const std::exception& e) {
            _context.logger().warning("offline check skipped, the store failed: %s",
                                      std::string(e.what()));
            return 0;
        }
    }
    // Under each device's mutex: a heartbeat may have come in since the scan.
    std::vector<std::shared_ptr<Device>> quiet;
    std::vector<DevicesStore::Quiet> rows;
    std::vector<double> lastSeens;
    for (const auto& device : candidates) {
        std::lock_guard<std::mutex> lock(device->mutex);
        double lastSeen = device->lastSeen.load(std::memory_order_relaxed);
        if (!device->online.load(std::memory_order_relaxed) || lastSeen >= cutoff) {
            continue;
        }
        auto it = stored.find(device->id);
        bool same = it != stored.end() && it->second.registeredAt == device->registeredAt;
        if (same && it->second.online && it->second.lastSeen >= cutoff) {
            // Heard from through another node: only moves on (the row may be older than a
            // change this node made since it was read, never than this node's last heartbeat).
            device->lastSeen.store(it->second.lastSeen, std::memory_order_relaxed);
            device->info.parse(it->second.deviceInfo);
            continue;
        }
        quiet.push_back(device);
        rows.push_back({device->id, device->registeredAt});
        lastSeens.push_back(same ? std::max(lastSeen, it->second.lastSeen) : lastSeen);
    }
    if (quiet.empty()) {
        return 0;
    }
    std::vector<bool> changed;
    try {
        changed = _store.takeOffline(rows, cutoff);  // one transaction, however many went quiet
    } catch (const std::exception& e) {
        _context.logger().warning("offline check failed, the store refused (retried): %s",
                                  std::string(e.what()));
        return 0;
    }
    std::size_t count = 0;
    for (std::size_t i = 0; i < quiet.size(); ++i) {
        Device& device = *quiet[i];
        std::lock_guard<std::mutex> lock(device.mutex);
        bool same = device.registeredAt == rows[i].registeredAt;
        if (!changed[i]) {
            try {
                if (same) {
                    refresh(device);  // another node took it offline, or heard from it just now
                }
            } catch (const std::exception& e) {
                _context.logger().warning("cannot re-read device %s: %s", device.key,
                                          std::string(e.what()));
            }
            continue;
        }
        // Offline in the store now: also when a heartbeat reached this node since the scan
        // (answered online; the next one brings it back, announced). Registered again since,
        // it is online: no event; revoked since, the revocation found it offline: this one.
        if (same) {
            _registry.markOffline(device);
        } else if (device.online.load(std::memory_order_relaxed)) {
            continue;
        }
        _context.bus().publish("device.offline", DeviceEvents::offline(device.key, lastSeens[i]));
        ++count;
    }
    return count;
}

}  // namespace switchboard::devices
