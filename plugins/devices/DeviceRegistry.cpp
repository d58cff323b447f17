// In-memory device registry (see DeviceRegistry.h).
#include "DeviceRegistry.h"

#include <algorithm>

namespace switchboard::devices {

DeviceRecord Device::snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    DeviceRecord r;
    r.id = id;
    r.key = key;
    r.note = note;
    r.createdAt = createdAt;
    r.tokenHash = hasToken ? DeviceTokens::toHex(tokenHash) : std::string();
    r.tokenExpiresAt = hasToken ? tokenExpiresAt : 0;
    r.registered = registered;
    r.registeredAt = registeredAt;
    r.revoked = revoked;
    r.lastSeen = lastSeen.load(std::memory_order_relaxed);
    r.deviceInfo = info.json();
    r.sshPubkey = sshPubkey;
    r.online = online.load(std::memory_order_relaxed);
    return r;
}

void DeviceRegistry::load(const DeviceRecord& r, double now, double offlineAfter) {
    auto d = std::make_shared<Device>(r.id, r.key);
    d->note = r.note;
    d->createdAt = r.createdAt;
    d->hasToken = DeviceTokens::fromHex(r.tokenHash, d->tokenHash);
    d->tokenExpiresAt = r.tokenExpiresAt;
    d->registered = r.registered && !r.revoked;
    d->registeredAt = d->registered ? r.registeredAt : 0;
    d->revoked = r.revoked;
    if (!d->info.parse(r.deviceInfo)) {
        d->info = DeviceInfo();
    }
    d->sshPubkey = r.sshPubkey;
    d->hasSecret = d->registered && DeviceTokens::fromHex(r.secretHash, d->secretHash);
    d->lastSeen = r.lastSeen;
    d->online = d->registered && r.lastSeen > 0 && now - r.lastSeen < offlineAfter;
    std::unique_lock<std::shared_mutex> lock(_mutex);
    if (!_devices.emplace(r.key, d).second) {
        return;
    }
    _ordered.emplace(d->key, d);
    _maxId = std::max(_maxId.load(), r.id);
    _registered += d->registered ? 1 : 0;
    _online += d->online ? 1 : 0;
}

std::shared_ptr<Device> DeviceRegistry::find(const std::string& key) const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    auto it = _devices.find(key);
    return it == _devices.end() ? nullptr : it->second;
}

bool DeviceRegistry::insert(const std::shared_ptr<Device>& device) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    if (!_devices.emplace(device->key, device).second) {
        return false;
    }
    _ordered.emplace(device->key, device);
    _maxId = std::max(_maxId.load(), device->id);
    return true;
}

std::vector<std::shared_ptr<Device>> DeviceRegistry::page(std::size_t offset, std::size_t limit,
                                                          const std::function<bool(Device&)>& match,
                                                          std::size_t& total) const {
    std::vector<std::shared_ptr<Device>> out;
    std::shared_lock<std::shared_mutex> lock(_mutex);
    if (!match) {
        total = _ordered.size();
        auto it = _ordered.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(std::min(offset, _ordered.size())));
        for (; it != _ordered.end() && out.size() < limit; ++it) {
            out.push_back(it->second);
        }
        return out;
    }
    total = 0;
    for (const auto& [key, device] : _ordered) {
        if (!match(*device)) {
            continue;
        }
        if (total >= offset && out.size() < limit) {
            out.push_back(device);
        }
        ++total;
    }
    return out;
}

bool DeviceRegistry::markSeen(Device& device, double now) {
    device.lastSeen.store(now, std::memory_order_relaxed);
    if (device.online.load(std::memory_order_relaxed)) {
        return false;
    }
    device.online.store(true, std::memory_order_relaxed);
    _online.fetch_add(1, std::memory_order_relaxed);
    return true;
}

bool DeviceRegistry::markOffline(Device& device) {
    if (!device.online.load(std::memory_order_relaxed)) {
        return false;
    }
    device.online.store(false, std::memory_order_relaxed);
    _online.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

void DeviceRegistry::expire(double cutoff, const std::function<void(Device&)>& wentOffline) {
    std::vector<std::shared_ptr<Device>> candidates;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        for (const auto& entry : _devices) {
            const Device& d = *entry.second;
            if (d.online.load(std::memory_order_relaxed) &&
                d.lastSeen.load(std::memory_order_relaxed) < cutoff) {
                candidates.push_back(entry.second);
            }
        }
    }
    for (const auto& device : candidates) {
        std::lock_guard<std::mutex> lock(device->mutex);
        // Re-checked under the device's mutex: a heartbeat may have come in since the scan.
        if (device->lastSeen.load(std::memory_order_relaxed) < cutoff && markOffline(*device)) {
            wentOffline(*device);
        }
    }
}

void DeviceRegistry::setRegistered(Device& device, bool registered) {
    if (device.registered != registered) {
        device.registered = registered;
        if (registered) {
            _registered.fetch_add(1, std::memory_order_relaxed);
        } else {
            _registered.fetch_sub(1, std::memory_order_relaxed);
        }
    }
}

std::size_t DeviceRegistry::size() const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    return _devices.size();
}

}  // namespace switchboard::devices
