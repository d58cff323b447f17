// Which connections each account is logged in on, for live delivery. A connection becomes a
// delivery target only when the writer has sent it its undelivered messages (so live messages
// never overtake older stored ones) and stops being one when it closes. Each target keeps its
// session's delivery mark (ChatSession::deliveryMark) for deliveries another node announces.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ChatSession.h"
#include "switchboard/Stream.h"

namespace switchboard::messaging {

class Presence {
public:
    struct Target {
        StreamPtr conn;
        std::int64_t mark = 0;
    };

    /// Adds `conn` as a target for `userId` unless its session closed already.
    bool add(std::int64_t userId, const StreamPtr& conn, ChatSession& session) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (session.closed) {
            return false;
        }
        auto& list = _byUser[userId];
        for (const auto& t : list) {
            if (t.conn == conn) {
                return true;
            }
        }
        list.push_back(Target{conn, session.deliveryMark});
        return true;
    }
    /// Marks the session closed and removes its connection.
    void close(std::int64_t userId, const StreamPtr& conn, ChatSession& session) {
        std::lock_guard<std::mutex> lock(_mutex);
        session.closed = true;
        auto it = _byUser.find(userId);
        if (it == _byUser.end()) {
            return;
        }
        auto& list = it->second;
        for (auto c = list.begin(); c != list.end(); ++c) {
            if (c->conn == conn) {
                list.erase(c);
                break;
            }
        }
        if (list.empty()) {
            _byUser.erase(it);
        }
    }
    std::vector<StreamPtr> targets(std::int64_t userId) const {
        std::lock_guard<std::mutex> lock(_mutex);
        std::vector<StreamPtr> out;
        auto it = _byUser.find(userId);
        if (it != _byUser.end()) {
            out.reserve(it->second.size());
            for (const auto& t : it->second) {
                out.push_back(t.conn);
            }
        }
        return out;
    }
    /// The targets of `userId` with their delivery marks.
    std::vector<Target> marked(std::int64_t userId) const {
        std::lock_guard<std::mutex> lock(_mutex);
        auto it = _byUser.find(userId);
        return it == _byUser.end() ? std::vector<Target>() : it->second;
    }
    bool has(std::int64_t userId) const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _byUser.count(userId) > 0;
    }
    std::size_t users() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _byUser.size();
    }

private:
    mutable std::mutex _mutex;
    std::unordered_map<std::int64_t, std::vector<Target>> _byUser;
};

}  // namespace switchboard::messaging
