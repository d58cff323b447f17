// Presence per organization (see PeerRegistry.h).
#include "PeerRegistry.h"

#include <algorithm>

#include "switchboard/Json.h"

namespace switchboard::signaling {

const char* reasonName(OfflineReason reason) {
    switch (reason) {
        case OfflineReason::Closed:
            return "closed";
        case OfflineReason::Timeout:
            return "timeout";
        case OfflineReason::Dropped:
            return "dropped";
        case OfflineReason::Replaced:
            return "replaced";
        case OfflineReason::Left:
            return "left";
    }
    return "closed";
}

void Peer::finish() {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::writeString(w, "peer_id", peerId);
    w.Key("user_id");
    w.Int64(userId);
    json::writeStringOrNull(w, "email", email);
    json::writeStringOrNull(w, "agent_id", agentId);
    json::writeString(w, "public_ip", publicIp);
    w.Key("public_port");
    w.Int64(publicPort);
    w.Key("relay_ip");
    if (relayIp) {
        w.String(relayIp->data(), static_cast<rapidjson::SizeType>(relayIp->size()));
    } else {
        w.Null();
    }
    w.Key("relay_port");
    if (relayPort) {
        w.Int64(*relayPort);
    } else {
        w.Null();
    }
    json::writeString(w, "virtual_ip", virtualIp);
    w.EndObject();
    json.assign(buffer.GetString(), buffer.GetSize());
}

namespace {

std::string onlineMessage(const Peer& peer) {
    return "{\"type\":\"peer_online\",\"peer\":" + peer.json + "}";
}

std::string offlineMessage(const Peer& peer) {
    return "{\"type\":\"peer_offline\",\"peer_id\":" + json::quote(peer.peerId) +
           ",\"user_id\":" + std::to_string(peer.userId) +
           ",\"virtual_ip\":" + json::quote(peer.virtualIp) + "}";
}

}  // namespace

PeerRegistry::PeerRegistry(std::chrono::milliseconds reconnectGrace, std::size_t maxAgentsPerUser,
                           Events events)
    : _grace(reconnectGrace), _maxAgentsPerUser(maxAgentsPerUser), _events(std::move(events)) {}

std::shared_ptr<PeerRegistry::Group> PeerRegistry::group(std::int64_t organizationId, bool create) {
    std::lock_guard<std::mutex> lock(_groupsMutex);
    auto it = _groups.find(organizationId);
    if (it != _groups.end()) {
        return it->second;
    }
    if (!create) {
        return nullptr;
    }
    // Groups stay once made (one small map per organization that ever had a peer), so a
    // holder of a group never adds to one that was dropped.
    auto g = std::make_shared<Group>();
    _groups.emplace(organizationId, g);
    return g;
}

void PeerRegistry::sendToOthersLocked(Group& g, const std::string& exceptPeerId,
                                      const std::string& text) {
    for (auto& [id, entry] : g.peers) {
        if (entry.conn && id != exceptPeerId) {
            entry.conn->sendText(text);  // queued; a peer that never reads is closed (Overflow)
        }
    }
}

void PeerRegistry::add(const PeerPtr& peer, const WebSocketPtr& conn,
                       const std::function<std::string(const std::string&)>& response) {
    auto g = group(peer->organizationId, true);
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peer->peerId);
    if (it == g->peers.end()) {
        std::size_t mine = 0;
        for (const auto& [id, entry] : g->peers) {
            mine += entry.peer->userId == peer->userId ? 1 : 0;
        }
        if (mine >= _maxAgentsPerUser) {
            throw PeerConflict("user has " + std::to_string(mine) +
                               " agents registered in this organization, the limit");
        }
    } else {
        Entry& old = it->second;
        if (old.peer->userId != peer->userId) {
            throw PeerConflict("agent_id " + peer->peerId +
                               " is registered in this organization by another user");
        }
        // The same agent again: the new connection takes over without an offline/online flap.
        if (old.conn) {
            _events.offline(*old.peer, OfflineReason::Replaced);
            old.conn->close(4000, "replaced by a new connection of this agent");
        }
        g->peers.erase(it);
        _size.fetch_sub(1);
    }
    std::string existing = "[";
    bool first = true;
    for (const auto& [id, entry] : g->peers) {
        if (!first) {
            existing += ',';
        }
        first = false;
        existing += entry.peer->json;
    }
    existing += ']';
    conn->sendText(response(existing));
    sendToOthersLocked(*g, peer->peerId, onlineMessage(*peer));
    g->peers.emplace(peer->peerId, Entry{peer, conn, {}});
    _size.fetch_add(1);
    _events.online(*peer);
}

void PeerRegistry::offlineLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                                 OfflineReason reason) {
    PeerPtr peer = it->second.peer;
    g.peers.erase(it);
    _size.fetch_sub(1);
    sendToOthersLocked(g, peer->peerId, offlineMessage(*peer));
    _events.offline(*peer, reason);
}

void PeerRegistry::disconnected(const PeerPtr& peer, bool lingering, OfflineReason reason) {
    auto g = group(peer->organizationId, false);
    if (!g) {
        return;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peer->peerId);
    if (it == g->peers.end() || it->second.peer != peer || !it->second.conn) {
        return;  // replaced, kicked or already lingering
    }
    if (lingering && _grace.count() > 0) {
        it->second.conn = nullptr;
        it->second.lingerUntil = Clock::now() + _grace;
        return;
    }
    offlineLocked(*g, it, reason);
}

void PeerRegistry::sweep(Clock::time_point now) {
    std::vector<std::shared_ptr<Group>> groups;
    {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        groups.reserve(_groups.size());
        for (auto& [id, g] : _groups) {
            groups.push_back(g);
        }
    }
    for (auto& g : groups) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto it = g->peers.begin(); it != g->peers.end();) {
            auto next = std::next(it);
            if (!it->second.conn && it->second.lingerUntil <= now) {
                offlineLocked(*g, it, OfflineReason::Dropped);
            }
            it = next;
        }
    }
}

PeerRegistry::RelayResult PeerRegistry::relay(const Peer& from, const std::string& to,
                                              std::string_view dataJson) {
    auto g = group(from.organizationId, false);
    if (!g) {
        return RelayResult::UnknownPeer;
    }
    std::string text = "{\"type\":\"signal\",\"from\":" + json::quote(from.peerId) +
                       ",\"data\":" + std::string(dataJson) + "}";
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(to);
    if (it == g->peers.end()) {
        return RelayResult::UnknownPeer;
    }
    if (!it->second.conn) {
        return RelayResult::NotConnected;
    }
    it->second.conn->sendText(text);
    return RelayResult::Sent;
}

bool PeerRegistry::kick(std::int64_t organizationId, const std::string& peerId,
                        OfflineReason reason, std::uint16_t code, const std::string& why) {
    auto g = group(organizationId, false);
    if (!g) {
        return false;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peerId);
    if (it == g->peers.end()) {
        return false;
    }
    WebSocketPtr conn = it->second.conn;
    offlineLocked(*g, it, reason);
    if (conn) {
        conn->close(code, why);
    }
    return true;
}

std::size_t PeerRegistry::removeUser(std::int64_t userId,
                                     std::optional<std::int64_t> organizationId,
                                     OfflineReason reason, std::uint16_t code,
                                     const std::string& why) {
    std::vector<std::shared_ptr<Group>> groups;
    if (organizationId) {
        if (auto g = group(*organizationId, false)) {
            groups.push_back(g);
        }
    } else {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        for (auto& [id, g] : _groups) {
            groups.push_back(g);
        }
    }
    std::size_t count = 0;
    for (auto& g : groups) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto it = g->peers.begin(); it != g->peers.end();) {
            auto next = std::next(it);
            if (it->second.peer->userId == userId) {
                WebSocketPtr conn = it->second.conn;
                offlineLocked(*g, it, reason);
                if (conn) {
                    conn->close(code, why);
                }
                ++count;
            }
            it = next;
        }
    }
    return count;
}

std::size_t PeerRegistry::removeOrganization(std::int64_t organizationId, OfflineReason reason,
                                             std::uint16_t code, const std::string& why) {
    auto g = group(organizationId, false);
    if (!g) {
        return 0;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    std::size_t count = 0;
    while (!g->peers.empty()) {
        WebSocketPtr conn = g->peers.begin()->second.conn;
        offlineLocked(*g, g->peers.begin(), reason);
        if (conn) {
            conn->close(code, why);
        }
        ++count;
    }
    return count;
}

std::vector<PeerRegistry::Listed> PeerRegistry::list(std::optional<std::int64_t> organizationId,
                                                     std::size_t limit, std::size_t offset,
                                                     std::size_t& total) const {
    std::vector<std::pair<std::int64_t, std::shared_ptr<Group>>> groups;
    {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        for (const auto& [id, g] : _groups) {
            if (!organizationId || *organizationId == id) {
                groups.emplace_back(id, g);
            }
        }
    }
    std::sort(groups.begin(), groups.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Listed> all;
    for (auto& [id, g] : groups) {
        std::vector<Listed> some;
        {
            std::lock_guard<std::mutex> lock(g->mutex);
            some.reserve(g->peers.size());
            for (const auto& [peerId, entry] : g->peers) {
                some.push_back({entry.peer, entry.conn != nullptr});
            }
        }
        std::sort(some.begin(), some.end(),
                  [](const Listed& a, const Listed& b) { return a.peer->peerId < b.peer->peerId; });
        all.insert(all.end(), some.begin(), some.end());
    }
    total = all.size();
    std::vector<Listed> page;
    for (std::size_t i = offset; i < all.size() && page.size() < limit; ++i) {
        page.push_back(all[i]);
    }
    return page;
}

std::size_t PeerRegistry::size() const {
    return _size.load();
}

std::size_t PeerRegistry::onlineIn(std::int64_t organizationId) const {
    std::shared_ptr<Group> g;
    {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        auto it = _groups.find(organizationId);
        if (it == _groups.end()) {
            return 0;
        }
        g = it->second;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    return g->peers.size();
}

}  // namespace switchboard::signaling
