// In-memory server registry (see ServerRegistry.h).
#include "ServerRegistry.h"

#include <mutex>

namespace switchboard::pairing {

ServerInfo ServerRegistry::Entry::snapshot() const {
    ServerInfo copy = info;
    copy.lastHeartbeat = lastHeartbeat.load(std::memory_order_relaxed);
    return copy;
}

void ServerRegistry::load(const std::vector<ServerInfo>& servers) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    _byKey.clear();
    _byCode.clear();
    for (const auto& server : servers) {
        auto entry = std::make_shared<Entry>();
        entry->info = server;
        entry->lastHeartbeat = server.lastHeartbeat;
        if (entry->info.online && entry->info.code != 0 && !_byCode.count(entry->info.code)) {
            _byCode[entry->info.code] = entry;
        } else {
            entry->info.online = false;
            entry->info.code = 0;
        }
        _byKey[server.sshPubkey] = entry;
    }
}

std::optional<int> ServerRegistry::reserveCode() {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    const int span = kMaxCode - kMinCode + 1;
    if (_byCode.size() + _reserved.size() >= static_cast<std::size_t>(span)) {
        return std::nullopt;
    }
    // Random probes first (codes must not be guessable from registration order), then a scan
    // from a random start so a nearly full space still finds the free codes.
    std::uniform_int_distribution<int> pick(kMinCode, kMaxCode);
    for (int attempt = 0; attempt < 64; ++attempt) {
        int code = pick(_random);
        if (!_byCode.count(code) && !_reserved.count(code)) {
            _reserved.insert(code);
            return code;
        }
    }
    int start = pick(_random);
    for (int i = 0; i < span; ++i) {
        int code = kMinCode + (start - kMinCode + i) % span;
        if (!_byCode.count(code) && !_reserved.count(code)) {
            _reserved.insert(code);
            return code;
        }
    }
    return std::nullopt;
}

void ServerRegistry::releaseReservation(int code) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    _reserved.erase(code);
}

void ServerRegistry::commit(const ServerInfo& info) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    _reserved.erase(info.code);
    auto& entry = _byKey[info.sshPubkey];
    if (entry && entry->info.code != 0) {
        _byCode.erase(entry->info.code);
    }
    // Another node's server that held this code before (a shared store): it lost it.
    auto holder = _byCode.find(info.code);
    if (holder != _byCode.end() && holder->second != entry) {
        holder->second->info.online = false;
        holder->second->info.code = 0;
    }
    // A fresh entry: readers holding the old one keep a consistent snapshot.
    entry = std::make_shared<Entry>();
    entry->info = info;
    entry->lastHeartbeat = info.lastHeartbeat;
    _byCode[info.code] = entry;
}

void ServerRegistry::markOffline(const std::string& sshPubkey, double registeredAt) {
    std::unique_lock<std::shared_mutex> lock(_mutex);
    auto it = _byKey.find(sshPubkey);
    if (it == _byKey.end() || it->second->info.registeredAt != registeredAt ||
        !it->second->info.online) {
        return;
    }
    _byCode.erase(it->second->info.code);
    it->second->info.online = false;
    it->second->info.code = 0;
}

std::optional<ServerInfo> ServerRegistry::byCode(int code) const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    auto it = _byCode.find(code);
    if (it == _byCode.end()) {
        return std::nullopt;
    }
    return it->second->snapshot();
}

std::optional<ServerInfo> ServerRegistry::byKey(const std::string& sshPubkey) const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    auto it = _byKey.find(sshPubkey);
    if (it == _byKey.end()) {
        return std::nullopt;
    }
    return it->second->snapshot();
}

ServerRegistry::Heartbeat ServerRegistry::heartbeat(const std::string& sshPubkey, double now) {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    auto it = _byKey.find(sshPubkey);
    if (it == _byKey.end()) {
        return Heartbeat::Unknown;
    }
    if (!it->second->info.online) {
        return Heartbeat::Offline;
    }
    it->second->lastHeartbeat.store(now, std::memory_order_relaxed);
    return Heartbeat::Updated;
}

std::vector<ServerInfo> ServerRegistry::expire(double cutoff) {
    std::vector<ServerInfo> expired;
    {
        std::shared_lock<std::shared_mutex> lock(_mutex);
        bool any = false;
        for (const auto& [code, entry] : _byCode) {
            any = any || entry->lastHeartbeat.load(std::memory_order_relaxed) < cutoff;
        }
        if (!any) {
            return expired;  // the common case: no exclusive lock
        }
    }
    std::unique_lock<std::shared_mutex> lock(_mutex);
    for (auto it = _byCode.begin(); it != _byCode.end();) {
        Entry& entry = *it->second;
        if (entry.lastHeartbeat.load(std::memory_order_relaxed) < cutoff) {
            expired.push_back(entry.snapshot());
            entry.info.online = false;
            entry.info.code = 0;
            it = _byCode.erase(it);
        } else {
            ++it;
        }
    }
    return expired;
}

std::vector<ServerInfo> ServerRegistry::all() const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    std::vector<ServerInfo> out;
    out.reserve(_byKey.size());
    for (const auto& [key, entry] : _byKey) {
        out.push_back(entry->snapshot());
    }
    return out;
}

std::size_t ServerRegistry::onlineCount() const {
    std::shared_lock<std::shared_mutex> lock(_mutex);
    return _byCode.size();
}

}  // namespace switchboard::pairing
