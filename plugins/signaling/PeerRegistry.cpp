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

std::shared_ptr<Peer> Peer::fromJson(std::int64_t organizationId, const std::string& text,
                                     const std::string& connectionId, double registeredAt) {
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    auto str = [&](const char* key) -> const rapidjson::Value* {
        auto it = d.FindMember(key);
        return it != d.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
    };
    auto num = [&](const char* key) -> const rapidjson::Value* {
        auto it = d.FindMember(key);
        return it != d.MemberEnd() && it->value.IsInt64() ? &it->value : nullptr;
    };
    if (!d.IsObject() || !str("peer_id") || !num("user_id") || !str("public_ip") ||
        !num("public_port") || !str("virtual_ip")) {
        return nullptr;
    }
    auto p = std::make_shared<Peer>();
    p->organizationId = organizationId;
    p->peerId = str("peer_id")->GetString();
    p->userId = num("user_id")->GetInt64();
    p->email = str("email") ? str("email")->GetString() : "";
    p->agentId = str("agent_id") ? str("agent_id")->GetString() : "";
    p->publicIp = str("public_ip")->GetString();
    p->publicPort = num("public_port")->GetInt64();
    if (str("relay_ip")) {
        p->relayIp = std::string(str("relay_ip")->GetString());
    }
    if (num("relay_port")) {
        p->relayPort = num("relay_port")->GetInt64();
    }
    p->virtualIp = str("virtual_ip")->GetString();
    p->connectionId = connectionId;
    p->registeredAt = registeredAt;
    p->finish();
    return p;
}

bool Peer::newerThan(const Peer& other) const {
    if (registeredAt != other.registeredAt) {
        return registeredAt > other.registeredAt;
    }
    return connectionId > other.connectionId;
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
        // Another node's connection of it is closed there, when our peer.online arrives.
        if (old.conn) {
            _events.offline(*old.peer, OfflineReason::Replaced);
            old.conn->close(4000, "replaced by a new connection of this agent");
        }
        if (old.node.empty()) {
            _size.fetch_sub(1);
        }
        g->peers.erase(it);
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
    g->peers.emplace(peer->peerId, Entry{peer, conn, "", false, {}});
    _size.fetch_add(1);
    _events.online(*peer);
}

void PeerRegistry::offlineLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                                 OfflineReason reason) {
    PeerPtr peer = it->second.peer;
    bool mine = it->second.node.empty();
    g.peers.erase(it);
    sendToOthersLocked(g, peer->peerId, offlineMessage(*peer));
    if (mine) {
        _size.fetch_sub(1);
        _events.offline(*peer, reason);
    }
}

void PeerRegistry::remoteLocked(Group& g, std::unordered_map<std::string, Entry>::iterator it,
                                const PeerPtr& peer, const std::string& node) {
    if (it != g.peers.end()) {
        if (it->second.node.empty()) {
            _size.fetch_sub(1);
        }
        g.peers.erase(it);
    }
    sendToOthersLocked(g, peer->peerId, onlineMessage(*peer));
    g.peers.emplace(peer->peerId, Entry{peer, nullptr, node, false, {}, Clock::now()});
}

bool PeerRegistry::remoteOnline(const PeerPtr& peer, const std::string& node) {
    auto g = group(peer->organizationId, true);
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peer->peerId);
    if (it == g->peers.end()) {
        remoteLocked(*g, it, peer, node);
        return true;
    }
    Entry& old = it->second;
    if (old.peer->connectionId == peer->connectionId) {
        return false;  // known already (an event and a resync both told us)
    }
    bool sameUser = old.peer->userId == peer->userId;
    bool newer = peer->newerThan(*old.peer);
    if (!old.lingering && (sameUser ? !newer : newer)) {
        return false;
    }
    if (old.node.empty()) {
        WebSocketPtr conn = old.conn;
        if (sameUser) {
            if (conn) {
                _events.offline(*old.peer, OfflineReason::Replaced);
                conn->close(4000, "replaced by a new connection of this agent");
            }
        } else {
            // Two users took one agent id on two nodes at once: the first registration stays.
            PeerPtr ours = old.peer;
            offlineLocked(*g, it, OfflineReason::Replaced);
            if (conn) {
                conn->sendText("{\"error\":\"Registration failed\",\"detail\":\"agent_id " +
                               ours->peerId +
                               " is registered in this organization by another user\"}");
                conn->close(1008, "Registration failed");
            }
            it = g->peers.end();
        }
    }
    remoteLocked(*g, it, peer, node);
    return true;
}

bool PeerRegistry::remoteOffline(std::int64_t organizationId, const std::string& peerId,
                                 const std::string& connectionId) {
    auto g = group(organizationId, false);
    if (!g) {
        return false;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peerId);
    if (it == g->peers.end() || it->second.node.empty() ||
        it->second.peer->connectionId != connectionId) {
        return false;
    }
    offlineLocked(*g, it, OfflineReason::Closed);
    return true;
}

std::size_t PeerRegistry::nodeDown(const std::string& node) {
    std::size_t count = 0;
    auto until = Clock::now() + _grace;
    for (auto& g : groups()) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto& [id, entry] : g->peers) {
            if (entry.node == node && !entry.lingering) {
                entry.lingering = true;
                entry.lingerUntil = until;
                ++count;
            }
        }
    }
    return count;
}

void PeerRegistry::nodeUp(const std::string& node) {
    for (auto& g : groups()) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto& [id, entry] : g->peers) {
            if (entry.node == node) {
                entry.lingering = false;
            }
        }
    }
}

PeerPtr PeerRegistry::findLocal(std::int64_t organizationId, const std::string& peerId,
                                const std::string& connectionId) const {
    std::shared_ptr<Group> g;
    {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        auto it = _groups.find(organizationId);
        if (it == _groups.end()) {
            return nullptr;
        }
        g = it->second;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peerId);
    if (it == g->peers.end() || !it->second.node.empty() ||
        it->second.peer->connectionId != connectionId) {
        return nullptr;
    }
    return it->second.peer;
}

void PeerRegistry::resync(const std::vector<Remote>& online, Clock::time_point learnedBefore) {
    std::unordered_map<std::int64_t, std::vector<const Remote*>> byGroup;
    for (const Remote& r : online) {
        byGroup[r.peer->organizationId].push_back(&r);
    }
    for (const auto& [orgId, remotes] : byGroup) {
        for (const Remote* r : remotes) {
            remoteOnline(r->peer, r->node);
        }
    }
    // Listed peers of other nodes that the store no longer has online go.
    for (auto& g : groups()) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto it = g->peers.begin(); it != g->peers.end();) {
            auto next = std::next(it);
            if (!it->second.node.empty() && it->second.learned < learnedBefore) {
                bool listed = false;
                auto found = byGroup.find(it->second.peer->organizationId);
                if (found != byGroup.end()) {
                    for (const Remote* r : found->second) {
                        listed = listed || (r->peer->peerId == it->first &&
                                            r->peer->connectionId == it->second.peer->connectionId);
                    }
                }
                if (!listed) {
                    offlineLocked(*g, it, OfflineReason::Closed);
                }
            }
            it = next;
        }
    }
}

bool PeerRegistry::sendLocal(std::int64_t organizationId, const std::string& peerId,
                             const std::string& text) {
    auto g = group(organizationId, false);
    if (!g) {
        return false;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(peerId);
    if (it == g->peers.end() || !it->second.conn) {
        return false;
    }
    it->second.conn->sendText(text);
    return true;
}

std::vector<PeerPtr> PeerRegistry::localPeers() const {
    std::vector<PeerPtr> out;
    for (auto& g : groups()) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (const auto& [id, entry] : g->peers) {
            if (entry.node.empty()) {
                out.push_back(entry.peer);
            }
        }
    }
    return out;
}

std::vector<std::shared_ptr<PeerRegistry::Group>> PeerRegistry::groups() const {
    std::lock_guard<std::mutex> lock(_groupsMutex);
    std::vector<std::shared_ptr<Group>> out;
    out.reserve(_groups.size());
    for (const auto& [id, g] : _groups) {
        out.push_back(g);
    }
    return out;
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
        it->second.lingering = true;
        it->second.lingerUntil = Clock::now() + _grace;
        return;
    }
    offlineLocked(*g, it, reason);
}

void PeerRegistry::sweep(Clock::time_point now) {
    for (auto& g : groups()) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto it = g->peers.begin(); it != g->peers.end();) {
            auto next = std::next(it);
            if (it->second.lingering && it->second.lingerUntil <= now) {
                PeerPtr peer = it->second.peer;
                std::string node = it->second.node;
                offlineLocked(*g, it, OfflineReason::Dropped);
                if (!node.empty() && _events.lost) {
                    _events.lost(*peer, node);
                }
            }
            it = next;
        }
    }
}

PeerRegistry::RelayResult PeerRegistry::relay(std::int64_t organizationId, const std::string& from,
                                              const std::string& to, std::string_view dataJson,
                                              std::string* node, bool localOnly) {
    auto g = group(organizationId, false);
    if (!g) {
        return RelayResult::UnknownPeer;
    }
    std::lock_guard<std::mutex> lock(g->mutex);
    auto it = g->peers.find(to);
    if (it == g->peers.end() || (localOnly && !it->second.node.empty())) {
        return RelayResult::UnknownPeer;
    }
    if (it->second.lingering) {
        return RelayResult::NotConnected;
    }
    if (!it->second.node.empty()) {
        if (node != nullptr) {
            *node = it->second.node;
        }
        return RelayResult::Remote;
    }
    it->second.conn->sendText("{\"type\":\"signal\",\"from\":" + json::quote(from) +
                              ",\"data\":" + std::string(dataJson) + "}");
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
    if (it == g->peers.end() || !it->second.node.empty()) {
        return false;  // another node's peer is kicked there
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
    std::vector<std::shared_ptr<Group>> chosen;
    if (organizationId) {
        if (auto g = group(*organizationId, false)) {
            chosen.push_back(g);
        }
    } else {
        chosen = groups();
    }
    std::size_t count = 0;
    for (auto& g : chosen) {
        std::lock_guard<std::mutex> lock(g->mutex);
        for (auto it = g->peers.begin(); it != g->peers.end();) {
            auto next = std::next(it);
            if (it->second.peer->userId == userId && it->second.node.empty()) {
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
    // Other nodes' peers are listed until their nodes close them (they delete it too).
    for (auto it = g->peers.begin(); it != g->peers.end();) {
        auto next = std::next(it);
        if (it->second.node.empty()) {
            WebSocketPtr conn = it->second.conn;
            offlineLocked(*g, it, reason);
            if (conn) {
                conn->close(code, why);
            }
            ++count;
        }
        it = next;
    }
    return count;
}

std::vector<PeerRegistry::Listed> PeerRegistry::list(std::optional<std::int64_t> organizationId,
                                                     std::size_t limit, std::size_t offset,
                                                     std::size_t& total) const {
    std::vector<std::pair<std::int64_t, std::shared_ptr<Group>>> chosen;
    {
        std::lock_guard<std::mutex> lock(_groupsMutex);
        for (const auto& [id, g] : _groups) {
            if (!organizationId || *organizationId == id) {
                chosen.emplace_back(id, g);
            }
        }
    }
    std::sort(chosen.begin(), chosen.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Listed> all;
    for (auto& [id, g] : chosen) {
        std::vector<Listed> some;
        {
            std::lock_guard<std::mutex> lock(g->mutex);
            some.reserve(g->peers.size());
            for (const auto& [peerId, entry] : g->peers) {
                if (entry.node.empty()) {
                    some.push_back({entry.peer, !entry.lingering, entry.node});
                }
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
