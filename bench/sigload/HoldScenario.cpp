// sb-sigload hold: connects and registers N agents (window-limited), checks that each learns
// every other agent of its organization, samples the server's RSS, holds them, closes them.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>
#include <unordered_map>

#include "Agents.h"

namespace sigload {

namespace {

std::string fixed(double v, int digits = 3) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
    return buf;
}

}  // namespace

int runHold(const Options& o) {
    std::vector<AgentSpec> specs = loadAgents(o.agentsFile);
    int n = o.count > 0 ? std::min<int>(o.count, static_cast<int>(specs.size()))
                        : static_cast<int>(specs.size());
    if (n == 0 || n < o.count) {
        throw std::invalid_argument("--count " + std::to_string(o.count) +
                                    ": the agents file has " + std::to_string(specs.size()) +
                                    " lines");
    }
    specs.resize(static_cast<std::size_t>(n));
    raiseFileLimit(n);
    long rssBefore = readRssKb(o.serverPid);

    Agents agents(o, specs, "h", Hooks{});
    const double cpuBefore = readCpuSeconds(o.serverPid);
    const Clock::time_point start = Clock::now();
    agents.openWindow(0, n, o.window);
    auto progress = [&] {
        return std::to_string(agents.registeredCount()) + "/" + std::to_string(n) +
               " registered, " + std::to_string(agents.failedCount()) + " failed";
    };
    bool allDone = waitUntil([&] { return agents.registeredCount() + agents.failedCount() >= n; },
                             start + std::chrono::seconds(o.timeoutSeconds), "hold", progress);
    if (!allDone) {
        gErrors.add("connect+register: " + progress() + " after " +
                    std::to_string(o.timeoutSeconds) + " s");
    }
    Clock::time_point last = start;
    std::vector<double> registerMs;
    registerMs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        if (agents.registered(i)) {
            last = std::max(last, agents.registeredAt(i));
            registerMs.push_back(agents.registerMs(i));
        }
    }
    double seconds = std::max(ms(start, last) / 1000.0, 1e-9);
    long rssRegistered = readRssKb(o.serverPid);
    const double cpuRegister = readCpuSeconds(o.serverPid) - cpuBefore;

    // Presence: every agent ends up knowing the other registered agents of its organization.
    std::unordered_map<long, int> orgSize;
    for (int i = 0; i < n; ++i) {
        orgSize[agents.spec(i).org] += agents.registered(i) ? 1 : 0;
    }
    auto wrongPresence = [&] {
        int wrong = 0;
        for (int i = 0; i < n; ++i) {
            if (agents.registered(i) && agents.known(i) != orgSize[agents.spec(i).org] - 1) {
                ++wrong;
            }
        }
        return wrong;
    };
    Clock::time_point settleStart = Clock::now();
    int wrong = 0;
    Clock::time_point nextScan = settleStart;
    waitUntil(
        [&] {
            if (Clock::now() < nextScan) {
                return false;
            }
            nextScan = Clock::now() + std::chrono::milliseconds(100);
            return (wrong = wrongPresence()) == 0;
        },
        settleStart + std::chrono::seconds(o.settleSeconds), "presence",
        [&] { return std::to_string(wrong) + " agents do not know all their peers yet"; });
    double settleSeconds = ms(settleStart, Clock::now()) / 1000.0;
    if (wrong > 0) {
        for (int i = 0, shown = 0; i < n && shown < 3; ++i) {
            int expected = orgSize[agents.spec(i).org] - 1;
            if (agents.registered(i) && agents.known(i) != expected) {
                std::cerr << "# presence: agent " << agents.id(i) << " (organization "
                          << agents.spec(i).org << ") knows " << agents.known(i) << ", expected "
                          << expected << "\n";
                ++shown;
            }
        }
        gErrors.add("presence: " + std::to_string(wrong) + " agents know a wrong number of peers");
    }
    long rssSettled = readRssKb(o.serverPid);
    std::cerr << "# hold: " << agents.registeredCount() << " registered in " << fixed(seconds)
              << " s, presence settled in " << fixed(settleSeconds) << " s, holding "
              << o.holdSeconds << " s" << std::endl;

    const Clock::time_point holdStart = Clock::now();
    waitUntil([] { return gEndHold.load(); }, holdStart + std::chrono::seconds(o.holdSeconds));
    double heldSeconds = ms(holdStart, Clock::now()) / 1000.0;
    long rssHeld = readRssKb(o.serverPid);
    int heldOpen = 0;
    for (int i = 0; i < n; ++i) {
        heldOpen += agents.registered(i) && !agents.closed(i) ? 1 : 0;
    }

    const Clock::time_point closeStart = Clock::now();
    agents.closeRange(0, n);
    if (!waitUntil([&] { return agents.closedCount() >= n; },
                   closeStart + std::chrono::seconds(o.timeoutSeconds), "close",
                   [&] { return std::to_string(agents.closedCount()) + " closed"; })) {
        gErrors.add("close: only " + std::to_string(agents.closedCount()) + " of " +
                    std::to_string(n) + " closed");
    }
    double closeSeconds = ms(closeStart, Clock::now()) / 1000.0;

    std::string r =
        "\"agents\":" + std::to_string(n) + ",\"organizations\":" + std::to_string(orgSize.size()) +
        ",\"registered\":" + std::to_string(agents.registeredCount()) +
        ",\"failed\":" + std::to_string(agents.failedCount()) +
        ",\"held_open\":" + std::to_string(heldOpen) +
        ",\"held_seconds\":" + fixed(heldSeconds, 1) +
        ",\"connect_register_seconds\":" + fixed(seconds) +
        ",\"connect_register_per_s\":" + fixed(agents.registeredCount() / seconds, 0) + "," +
        latencyJson("register", registerMs) + ",\"presence_wrong\":" + std::to_string(wrong) +
        ",\"presence_settle_seconds\":" + fixed(settleSeconds) +
        ",\"peer_online_received\":" + std::to_string(agents.onlineMessages()) +
        ",\"peer_offline_received\":" + std::to_string(agents.offlineMessages()) +
        ",\"pongs\":" + std::to_string(agents.pongs()) +
        ",\"close_seconds\":" + fixed(closeSeconds) +
        ",\"errors\":" + std::to_string(gErrors.total());
    if (o.serverPid != 0) {
        // Server CPU per registration: less disturbed by other load than the rate is.
        r += ",\"server_cpu_seconds_registering\":" + fixed(cpuRegister) +
             ",\"server_cpu_ms_per_register\":" +
             fixed(cpuRegister * 1000 / std::max(agents.registeredCount(), 1));
        r += ",\"server_rss_before_kb\":" + rssJson(rssBefore) +
             ",\"server_rss_registered_kb\":" + rssJson(rssRegistered) +
             ",\"server_rss_settled_kb\":" + rssJson(rssSettled) +
             ",\"server_rss_held_kb\":" + rssJson(rssHeld);
        if (rssBefore > 0 && rssHeld > 0) {
            r += ",\"server_bytes_per_agent\":" +
                 std::to_string((rssHeld - rssBefore) * 1024 / std::max(n, 1));
        }
    }
    printResult(o.name.empty() ? "signaling-hold" : o.name, r);
    return gErrors.total() == 0 && agents.registeredCount() == n ? 0 : 1;
}

}  // namespace sigload
