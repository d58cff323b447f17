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

std::shared_ptr<Device> DeviceRegistry::adopt(const DeviceRecord& r) {
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
    d->online = d->registered && r.online;
    std::unique_lock<std::shared_mutex> lock(_mutex);
    auto [it, added] = _devices.emplace(r.key, d);
    if (!added) {
        return it->second;
    }
    _ordered.emplace(d->key, d);
    _maxId = std::max(_maxId.load(), r.id);
    _registered += d->registered ? 1 : 0;
    _online += d->online ? 1 : 0;
    return d;
}

void DeviceRegistry::apply(Device& d, const DeviceRecord& r) {
    const bool registered = r.registered && !r.revoked;
    const bool sameRegistration = registered && d.registered && d.registeredAt == r.registeredAt;
    d.note = r.note;
    d.createdAt = r.createdAt;
    d.hasToken = DeviceTokens::fromHex(r.tokenHash, d.tokenHash);
    if (!d.hasToken) {
        d.tokenHash.fill(0);
    }
    d.tokenExpiresAt = d.hasToken ? r.tokenExpiresAt : 0;
    setRegistered(d, registered);
    d.registeredAt = registered ? r.registeredAt : 0;
    d.revoked = r.revoked;
    d.sshPubkey = r.sshPubkey;
    d.hasSecret = registered && DeviceTokens::fromHex(r.secretHash, d.secretHash);
    if (!d.hasSecret) {
        d.secretHash.fill(0);
    }
    if (!sameRegistration || r.lastSeen > d.lastSeen.load(std::memory_order_relaxed)) {
        d.lastSeen.store(r.lastSeen, std::memory_order_relaxed);
        if (!d.info.parse(r.deviceInfo)) {
            d.info = DeviceInfo();
        }
    }
    if (registered && r.online) {
        if (!d.online.exchange(true, std::memory_order_relaxed)) {
            _online.fetch_add(1, std::memory_order_relaxed);
        }
    } else {
        markOffline(d);
    }
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

std::vector<std::shared_ptr<Device>> DeviceRegistry::candidates(double cutoff) const {
    std::vector<std::shared_ptr<Device>> out;
    std::shared_lock<std::shared_mutex> lock(_mutex);
    for (const auto& entry : _devices) {
        const Device& d = *entry.second;
        if (d.online.load(std::memory_order_relaxed) &&
            d.lastSeen.load(std::memory_order_relaxed) < cutoff) {
            out.push_back(entry.second);
        }
    }
    return out;
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
