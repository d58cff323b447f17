// sb-sigload relay: P pairs of agents (consecutive lines of the agents file in one organization);
// the first of a pair sends a signal to its partner, who sends it back; closed loop, one signal
// in flight per pair, for --duration seconds after a one-second warm-up.
#include <iostream>
#include <thread>

#include "Agents.h"
#include "JsonScan.h"

namespace sigload {

int runRelay(const Options& o) {
    // Pairs of consecutive lines in one organization, first come first served.
    std::vector<AgentSpec> all = loadAgents(o.agentsFile);
    std::vector<AgentSpec> specs;
    for (std::size_t i = 0; i + 1 < all.size() && static_cast<int>(specs.size()) < 2 * o.pairs;) {
        if (all[i].org == all[i + 1].org) {
            specs.push_back(all[i]);
            specs.push_back(all[i + 1]);
            i += 2;
        } else {
            ++i;
        }
    }
    const int pairs = o.pairs;
    const int n = 2 * pairs;
    if (static_cast<int>(specs.size()) < n) {
        throw std::invalid_argument(
            "relay --pairs " + std::to_string(pairs) + ": the agents file has only " +
            std::to_string(specs.size() / 2) + " pairs of consecutive lines in one organization");
    }
    raiseFileLimit(n);

    // Per agent, each touched only on that agent's loop thread.
    std::vector<Clock::time_point> sentAt(static_cast<std::size_t>(n));
    std::vector<long> seq(static_cast<std::size_t>(n), 0);
    std::vector<std::vector<double>> samples(static_cast<std::size_t>(pairs));
    std::unique_ptr<std::atomic<bool>[]> partnerKnown(new std::atomic<bool>[pairs]);
    for (int j = 0; j < pairs; ++j) {
        partnerKnown[j] = false;
    }
    std::atomic<int> knownPairs{0};
    std::atomic<bool> measuring{false};
    std::atomic<bool> running{true};
    std::atomic<long> trips{0};
    std::atomic<int> inFlight{0};
    const std::string pad(static_cast<std::size_t>(o.payload), 'x');
    Agents* agents = nullptr;  // set before any agent connects

    auto know = [&](int i, std::string_view peer) {
        if (i % 2 == 0 && peer == agents->id(i + 1) && !partnerKnown[i / 2].exchange(true)) {
            ++knownPairs;
        }
    };
    auto send = [&](Connection& c) {
        std::size_t i = static_cast<std::size_t>(c.index());
        sentAt[i] = Clock::now();
        c.sendText("{\"type\":\"signal\",\"to\":\"" + agents->id(c.index() + 1) +
                   "\",\"data\":{\"seq\":" + std::to_string(++seq[i]) + ",\"pad\":\"" + pad +
                   "\"}}");
    };
    Hooks hooks;
    hooks.registered = [&](Connection& c, std::string_view text, Clock::time_point) {
        json::forEach(json::member(text, "existing_peers"), [&](std::string_view peer) {
            know(c.index(), json::str(json::member(peer, "peer_id")));
        });
    };
    hooks.online = [&](Connection& c, std::string_view peer, Clock::time_point) {
        know(c.index(), peer);
    };
    hooks.signal = [&](Connection& c, std::string_view from, std::string_view data,
                       Clock::time_point at) {
        int i = c.index();
        int partner = i % 2 == 0 ? i + 1 : i - 1;
        if (from != agents->id(partner)) {
            gErrors.add("relay: a signal from '" + std::string(from) + "' reached " +
                        agents->id(i));
            return;
        }
        if (i % 2 == 1) {
            c.sendText("{\"type\":\"signal\",\"to\":\"" + std::string(from) +
                       "\",\"data\":" + std::string(data) + "}");
            return;
        }
        if (json::member(data, "seq") != std::to_string(seq[static_cast<std::size_t>(i)])) {
            gErrors.add("relay: the signal came back with other data: " +
                        std::string(data.substr(0, 100)));
        }
        if (measuring.load()) {
            samples[static_cast<std::size_t>(i / 2)].push_back(
                ms(sentAt[static_cast<std::size_t>(i)], at));
            ++trips;
        }
        if (running.load()) {
            send(c);
        } else {
            --inFlight;
        }
    };
    long rssBefore = readRssKb(o.serverPid);
    Agents pool(o, specs, "r", hooks);
    agents = &pool;

    const Clock::time_point start = Clock::now();
    pool.openWindow(0, n, o.window);
    if (!waitUntil([&] { return pool.registeredCount() + pool.failedCount() >= n; },
                   start + std::chrono::seconds(o.timeoutSeconds)) ||
        pool.failedCount() > 0) {
        gErrors.add("relay: " + std::to_string(pool.registeredCount()) + " of " +
                    std::to_string(n) + " agents registered");
        return 1;
    }
    if (!waitUntil([&] { return knownPairs.load() >= pairs; },
                   Clock::now() + std::chrono::seconds(o.settleSeconds))) {
        gErrors.add("relay: " + std::to_string(pairs - knownPairs.load()) +
                    " agents never learnt that their partner is online");
        return 1;
    }
    std::cerr << "# relay: " << pairs << " pairs registered, " << o.durationSeconds
              << " s closed loop after 1 s warm-up" << std::endl;

    inFlight = pairs;
    for (int j = 0; j < pairs; ++j) {
        pool.post(2 * j, send);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    measuring = true;
    const Clock::time_point measureStart = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.durationSeconds));
    measuring = false;
    const double seconds = ms(measureStart, Clock::now()) / 1000.0;
    running = false;
    if (!waitUntil([&] { return inFlight.load() == 0; }, Clock::now() + std::chrono::seconds(10))) {
        gErrors.add("relay: " + std::to_string(inFlight.load()) +
                    " signals never came back after the run");
    }
    long rssAfter = readRssKb(o.serverPid);
    pool.closeRange(0, n);
    waitUntil([&] { return pool.closedCount() >= n; },
              Clock::now() + std::chrono::seconds(o.timeoutSeconds));

    std::vector<double> merged;
    for (auto& s : samples) {
        merged.insert(merged.end(), s.begin(), s.end());
    }
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%.0f", static_cast<double>(trips.load()) / seconds);
    std::string r =
        "\"pairs\":" + std::to_string(pairs) + ",\"payload_bytes\":" + std::to_string(o.payload) +
        ",\"round_trips\":" + std::to_string(trips.load()) + ",\"round_trips_per_s\":" + rate +
        "," + latencyJson("rtt", merged) + ",\"errors\":" + std::to_string(gErrors.total());
    if (o.serverPid != 0) {
        r += ",\"server_rss_before_kb\":" + rssJson(rssBefore) +
             ",\"server_rss_after_kb\":" + rssJson(rssAfter);
    }
    printResult(o.name.empty() ? "signaling-relay" : o.name, r);
    return gErrors.total() == 0 && trips.load() > 0 ? 0 : 1;
}

}  // namespace sigload
