// Signaling agents on top of EventClient: connect with a JWT, send the seed's register message,
// read register_agent_response / peer_online / peer_offline / signal / {"error"} and keep the
// counts every scenario reports. Scenario specifics come in through Hooks.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "Common.h"
#include "EventClient.h"

namespace sigload {

/// One line of the agents file: the organization to register in and the user's JWT.
struct AgentSpec {
    long org = 0;
    std::string token;
};

/// Reads "ORG_ID TOKEN" lines (blank lines and # comments skipped); throws on a bad line.
std::vector<AgentSpec> loadAgents(const std::string& file);

/// Called on the agent's loop thread; any may be empty.
struct Hooks {
    std::function<void(Connection&, std::string_view response, Clock::time_point)> registered;
    std::function<void(Connection&, std::string_view peerId, Clock::time_point)> online;
    std::function<void(Connection&, std::string_view peerId, Clock::time_point)> offline;
    std::function<void(Connection&, std::string_view from, std::string_view data,
                       Clock::time_point)>
        signal;
};

class Agents : public Handler {
public:
    /// Agent i gets the id prefix + i (see setId) and source address i % the sources.
    Agents(const Options& o, std::vector<AgentSpec> specs, std::string prefix, Hooks hooks);

    int size() const { return static_cast<int>(_specs.size()); }
    const AgentSpec& spec(int i) const { return _specs[static_cast<std::size_t>(i)]; }
    /// The agent_id (= peer_id) of agent i. setId only while i is not connected.
    const std::string& id(int i) const { return _slots[static_cast<std::size_t>(i)].id; }
    void setId(int i, std::string id) { _slots[static_cast<std::size_t>(i)].id = std::move(id); }

    /// Connects agents [first, last), at most window of them between connect and registration;
    /// each registers as soon as it is open. Thread-safe; returns at once.
    void openWindow(int first, int last, int window);
    /// Connects agent i (closed or never opened); it registers once open when autoRegister.
    void connect(int i, bool autoRegister);
    /// Sends agent i's register message (on its loop thread, once open).
    void sendRegister(Connection& conn);
    /// Starts a clean close of agent i (on its loop thread).
    void closeNow(Connection& conn);
    /// Posts closeNow to every agent in [first, last).
    void closeRange(int first, int last);
    /// Runs fn on agent i's loop thread.
    void post(int i, std::function<void(Connection&)> fn) { _client->post(i, std::move(fn)); }

    bool opened(int i) const { return slot(i).opened.load(); }
    bool registered(int i) const { return slot(i).registered.load(); }
    bool closed(int i) const { return slot(i).closed.load(); }
    /// Peers agent i knows of: existing_peers + peer_online - peer_offline.
    int known(int i) const { return slot(i).known.load(); }
    /// Connect-to-register_agent_response time of agent i (registered ones only).
    double registerMs(int i) const { return ms(slot(i).started, slot(i).done); }
    Clock::time_point registeredAt(int i) const { return slot(i).done; }
    Clock::time_point startedAt(int i) const { return slot(i).started; }

    int registeredCount() const { return _registered.load(); }
    int failedCount() const { return _failed.load(); }
    int closedCount() const { return _closed.load(); }
    long onlineMessages() const { return _online.load(); }
    long offlineMessages() const { return _offline.load(); }
    long serverErrors() const { return _serverErrors.load(); }
    long unexpectedCloses() const { return _unexpected.load(); }
    long pongs() const { return _client->pongs(); }

    void onOpen(Connection& conn) override;
    void onText(Connection& conn, std::string_view text, Clock::time_point at) override;
    void onClosed(Connection& conn, const CloseInfo& info) override;

private:
    struct Slot {
        std::string id;
        std::atomic<bool> opened{false};
        std::atomic<bool> registered{false};
        std::atomic<bool> closed{false};
        std::atomic<bool> closing{false};
        std::atomic<int> known{0};
        bool autoRegister = true;
        bool inWindow = false;
        bool failed = false;  // counted once, on its loop thread
        Clock::time_point started;
        Clock::time_point done;
    };
    Slot& slot(int i) const { return _slots[static_cast<std::size_t>(i)]; }
    void openNext();
    void fail(Slot& s, const std::string& why);
    void onResponse(Connection& conn, std::string_view text, Clock::time_point at);

    /// Options::ignorePrefix: another test's peer, left out of what the agents know.
    bool ignored(std::string_view peerId) const;
    const Options& _o;
    std::vector<AgentSpec> _specs;
    Hooks _hooks;
    std::unique_ptr<Slot[]> _slots;
    std::atomic<int> _next{0};
    std::atomic<int> _last{0};
    std::atomic<int> _registered{0};
    std::atomic<int> _failed{0};
    std::atomic<int> _closed{0};
    std::atomic<long> _online{0};
    std::atomic<long> _offline{0};
    std::atomic<long> _serverErrors{0};
    std::atomic<long> _unexpected{0};
    std::unique_ptr<EventClient> _client;  // last: its loops stop before the rest goes
};

}  // namespace sigload
