// sb-sigload fanout: K agents of one organization registered; per round a new agent registers and
// the time from sending its register to the last of the K peer_online deliveries is taken, then
// it closes cleanly and the time to the last peer_offline likewise (and to the first of each:
// the difference is the spread of the fan-out).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <thread>

#include "Agents.h"

namespace sigload {

namespace {

const std::string kNewPrefix = "fan-new-";
const int kClosing = -2;  // the round number once the K peers are being closed

// The round a new agent's id belongs to, or -1 for one of the K peers.
int roundOf(std::string_view peer) {
    if (peer.substr(0, kNewPrefix.size()) != kNewPrefix) {
        return -1;
    }
    int r = -1;
    std::from_chars(peer.data() + kNewPrefix.size(), peer.data() + peer.size(), r);
    return r;
}

// What one round waits for: K deliveries, the times of the first and last, duplicates seen.
struct Tally {
    std::atomic<int> count{0};
    std::atomic<std::int64_t> first{INT64_MAX};
    std::atomic<std::int64_t> last{0};
    std::vector<int> seen;  // per peer, the last round counted (touched on its loop only)

    void reset() {
        count = 0;
        first = INT64_MAX;
        last = 0;
    }
};

}  // namespace

int runFanout(const Options& o) {
    std::vector<AgentSpec> specs = loadAgents(o.agentsFile);
    const int k = o.peers;
    if (static_cast<int>(specs.size()) < k + 1) {
        throw std::invalid_argument("fanout --peers " + std::to_string(k) + " needs " +
                                    std::to_string(k + 1) + " lines in the agents file, it has " +
                                    std::to_string(specs.size()));
    }
    specs.resize(static_cast<std::size_t>(k + 1));
    for (const AgentSpec& s : specs) {
        if (s.org != specs[0].org) {
            throw std::invalid_argument("fanout: the first " + std::to_string(k + 1) +
                                        " lines of the agents file must share one organization");
        }
    }
    raiseFileLimit(k + 1);

    std::atomic<int> round{-1};
    std::atomic<long> stale{0};
    Tally online;
    Tally offline;
    online.seen.assign(static_cast<std::size_t>(k), -1);
    offline.seen.assign(static_cast<std::size_t>(k), -1);
    auto count = [&](Tally& t, const char* what, Connection& c, std::string_view peer,
                     Clock::time_point at) {
        int i = c.index();
        int r = roundOf(peer);
        if (i >= k || r < 0) {
            if (i < k && &t == &offline && round.load() != kClosing) {
                gErrors.add("a fan-out peer was announced offline: " + std::string(peer));
            }
            return;
        }
        if (r != round.load()) {
            ++stale;
            return;
        }
        if (t.seen[static_cast<std::size_t>(i)] == r) {
            gErrors.add(std::string("a second ") + what + " for " + std::string(peer));
            return;
        }
        t.seen[static_cast<std::size_t>(i)] = r;
        atomicMax(t.last, nanos(at));
        atomicMin(t.first, nanos(at));
        ++t.count;
    };
    Hooks hooks;
    hooks.online = [&](Connection& c, std::string_view peer, Clock::time_point at) {
        count(online, "peer_online", c, peer, at);
    };
    hooks.offline = [&](Connection& c, std::string_view peer, Clock::time_point at) {
        count(offline, "peer_offline", c, peer, at);
    };
    long rssBefore = readRssKb(o.serverPid);
    Agents agents(o, specs, "f", hooks);

    // 1. The K peers, each knowing the other K - 1 before the rounds begin.
    const Clock::time_point start = Clock::now();
    agents.openWindow(0, k, o.window);
    if (!waitUntil([&] { return agents.registeredCount() + agents.failedCount() >= k; },
                   start + std::chrono::seconds(o.timeoutSeconds)) ||
        agents.failedCount() > 0) {
        gErrors.add("fanout: " + std::to_string(agents.registeredCount()) + " of " +
                    std::to_string(k) + " peers registered");
        return 1;
    }
    double peersSeconds = ms(start, Clock::now()) / 1000.0;
    auto settled = [&] {
        for (int i = 0; i < k; ++i) {
            if (agents.known(i) != k - 1) {
                return false;
            }
        }
        return true;
    };
    if (!waitUntil(settled, Clock::now() + std::chrono::seconds(o.settleSeconds))) {
        gErrors.add("fanout: the peers do not all know each other after " +
                    std::to_string(o.settleSeconds) + " s");
    }
    long rssPeers = readRssKb(o.serverPid);
    std::cerr << "# fanout: " << k << " peers registered in " << peersSeconds << " s; " << o.warmup
              << " + " << o.rounds << " rounds" << std::endl;

    // 2. The rounds.
    std::vector<double> onlineMs, offlineMs, responseMs, onlineFirstMs, offlineFirstMs;
    const auto roundLimit = std::chrono::seconds(std::min(o.timeoutSeconds, 30));
    // When the new agent's register and close were sent (set on its loop thread).
    std::atomic<std::int64_t> sent{0};
    std::atomic<std::int64_t> closedAt{0};
    for (int r = 0; r < o.warmup + o.rounds; ++r) {
        round = r;
        online.reset();
        offline.reset();
        agents.setId(k, kNewPrefix + std::to_string(r));
        agents.connect(k, false);
        if (!waitUntil([&] { return agents.opened(k) || agents.closed(k); },
                       Clock::now() + roundLimit) ||
            !agents.opened(k)) {
            gErrors.add("fanout round " + std::to_string(r) + ": the new agent did not connect");
            break;
        }
        agents.post(k, [&](Connection& c) {
            sent = nanos(Clock::now());
            agents.sendRegister(c);
        });
        if (!waitUntil([&] { return online.count.load() >= k && agents.registered(k); },
                       Clock::now() + roundLimit)) {
            gErrors.add("fanout round " + std::to_string(r) + ": " +
                        std::to_string(online.count.load()) + " of " + std::to_string(k) +
                        " peer_online" + (agents.registered(k) ? "" : ", no register response"));
            break;
        }
        if (agents.known(k) != k) {
            gErrors.add("fanout: the new agent's existing_peers has " +
                        std::to_string(agents.known(k)) + " peers, expected " + std::to_string(k));
        }
        double onlineLatency = static_cast<double>(online.last.load() - sent.load()) / 1e6;
        double onlineFirst = static_cast<double>(online.first.load() - sent.load()) / 1e6;
        double responseLatency =
            static_cast<double>(nanos(agents.registeredAt(k)) - sent.load()) / 1e6;
        agents.post(k, [&](Connection& c) {
            closedAt = nanos(Clock::now());
            agents.closeNow(c);
        });
        if (!waitUntil([&] { return offline.count.load() >= k && agents.closed(k); },
                       Clock::now() + roundLimit)) {
            gErrors.add("fanout round " + std::to_string(r) + ": " +
                        std::to_string(offline.count.load()) + " of " + std::to_string(k) +
                        " peer_offline");
            break;
        }
        double offlineLatency = static_cast<double>(offline.last.load() - closedAt.load()) / 1e6;
        double offlineFirst = static_cast<double>(offline.first.load() - closedAt.load()) / 1e6;
        if (r >= o.warmup) {
            onlineMs.push_back(onlineLatency);
            offlineMs.push_back(offlineLatency);
            responseMs.push_back(responseLatency);
            onlineFirstMs.push_back(onlineFirst);
            offlineFirstMs.push_back(offlineFirst);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    long rssAfter = readRssKb(o.serverPid);

    round = kClosing;
    agents.closeRange(0, k);
    waitUntil(
        [&] {
            for (int i = 0; i < k; ++i) {
                if (!agents.closed(i)) {
                    return false;
                }
            }
            return true;
        },
        Clock::now() + std::chrono::seconds(o.timeoutSeconds));

    std::string r = "\"peers\":" + std::to_string(k) +
                    ",\"rounds\":" + std::to_string(onlineMs.size()) +
                    ",\"warmup_rounds\":" + std::to_string(o.warmup) + "," +
                    latencyJson("online", onlineMs) + "," + latencyJson("offline", offlineMs) +
                    "," + latencyJson("register_response", responseMs) + "," +
                    latencyJson("online_first", onlineFirstMs) + "," +
                    latencyJson("offline_first", offlineFirstMs) +
                    ",\"stale_deliveries\":" + std::to_string(stale.load()) +
                    ",\"errors\":" + std::to_string(gErrors.total());
    if (o.serverPid != 0) {
        r += ",\"server_rss_before_kb\":" + rssJson(rssBefore) +
             ",\"server_rss_peers_kb\":" + rssJson(rssPeers) +
             ",\"server_rss_after_kb\":" + rssJson(rssAfter);
    }
    printResult(o.name.empty() ? "signaling-fanout" : o.name, r);
    return gErrors.total() == 0 && static_cast<int>(onlineMs.size()) == o.rounds ? 0 : 1;
}

}  // namespace sigload
