// sb-sigload echo: the client core against any echo WebSocket (the testkit plugin's /testkit/ws):
// opens N connections, holds them, echoes one text on each, optionally runs a closed echo loop
// on the first --busy of them for --duration seconds, and closes them all cleanly.
#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>

#include "Common.h"

namespace sigload {

namespace {

class EchoLoad : public Handler {
public:
    EchoLoad(const Options& o, int n) : _o(o), _n(n), _slots(new Slot[n]) {
        _client = std::make_unique<EventClient>(makeTarget(o), o.threads, n, *this);
    }

    void openAll() {
        for (int k = 0; k < std::min(_o.window, _n); ++k) {
            openNext();
        }
    }
    void echoAll() {
        _phase = kOnce;
        for (int i = 0; i < _n; ++i) {
            _client->post(i, [this](Connection& c) { send(c); });
        }
    }
    void loop(int busy) {
        _phase = kLoop;
        _inFlight = busy;
        for (int i = 0; i < busy; ++i) {
            _client->post(i, [this](Connection& c) { send(c); });
        }
    }
    void closeAll() {
        for (int i = 0; i < _n; ++i) {
            _slots[i].closing = true;
            _client->post(i, [](Connection& c) { c.close(1000); });
        }
    }

    void onOpen(Connection& conn) override {
        _slots[conn.index()].opened = true;
        ++_opened;
        openNext();
    }
    void onText(Connection& conn, std::string_view text, Clock::time_point at) override {
        Slot& s = _slots[conn.index()];
        if (text != s.expect) {
            gErrors.add("echo: a different text came back");
            return;
        }
        double rtt = ms(s.sentAt, at);
        if (_phase.load() == kOnce) {
            s.onceMs = rtt;
            ++_echoed;
            return;
        }
        if (_measuring.load()) {
            s.loopMs.push_back(rtt);
            ++_trips;
        }
        if (_running.load()) {
            send(conn);
        } else {
            --_inFlight;
        }
    }
    void onClosed(Connection& conn, const CloseInfo& info) override {
        Slot& s = _slots[conn.index()];
        if (!s.opened) {
            gErrors.add("open: " + info.error);
            ++_failed;
            openNext();
        } else if (!s.closing) {
            gErrors.add("lost: " + (info.error.empty() ? "closed by the server with code " +
                                                             std::to_string(info.code)
                                                       : info.error));
        }
        ++_closed;
    }

    std::vector<double> onceSamples() const {
        std::vector<double> v;
        for (int i = 0; i < _n; ++i) {
            if (_slots[i].onceMs >= 0) {
                v.push_back(_slots[i].onceMs);
            }
        }
        return v;
    }
    std::vector<double> loopSamples() const {
        std::vector<double> v;
        for (int i = 0; i < _n; ++i) {
            v.insert(v.end(), _slots[i].loopMs.begin(), _slots[i].loopMs.end());
        }
        return v;
    }
    long pongs() const { return _client->pongs(); }

    // Progress, read and set by runEcho.
    std::atomic<int> _opened{0}, _failed{0}, _closed{0}, _echoed{0}, _inFlight{0};
    std::atomic<long> _trips{0};
    std::atomic<bool> _measuring{false}, _running{true};

private:
    enum Phase { kHold, kOnce, kLoop };
    struct Slot {
        std::atomic<bool> opened{false};
        std::atomic<bool> closing{false};
        std::string expect;
        Clock::time_point sentAt;
        double onceMs = -1;
        std::vector<double> loopMs;
        long seq = 0;
    };
    void openNext() {
        int i = _next.fetch_add(1);
        if (i < _n) {
            _client->open(i, _o.path);
        }
    }
    void send(Connection& c) {
        Slot& s = _slots[c.index()];
        s.expect = "echo-" + std::to_string(c.index()) + "-" + std::to_string(++s.seq);
        if (_phase.load() == kLoop && _o.payload > static_cast<int>(s.expect.size())) {
            s.expect.resize(static_cast<std::size_t>(_o.payload), 'x');
        }
        s.sentAt = Clock::now();
        c.sendText(s.expect);
    }

    const Options& _o;
    const int _n;
    std::atomic<int> _next{0};
    std::atomic<int> _phase{kHold};
    std::unique_ptr<Slot[]> _slots;
    std::unique_ptr<EventClient> _client;  // last: its loops stop before the rest goes
};

}  // namespace

int runEcho(const Options& o) {
    const int n = o.connections;
    if (n <= 0) {
        throw std::invalid_argument("echo needs --connections N");
    }
    raiseFileLimit(n);
    long rssBefore = readRssKb(o.serverPid);
    EchoLoad load(o, n);
    const Clock::time_point start = Clock::now();
    load.openAll();
    auto progress = [&] {
        return std::to_string(load._opened.load()) + "/" + std::to_string(n) + " open, " +
               std::to_string(load._failed.load()) + " failed";
    };
    if (!waitUntil([&] { return load._opened + load._failed >= n; },
                   start + std::chrono::seconds(o.timeoutSeconds), "echo", progress)) {
        gErrors.add("open: " + progress() + " after " + std::to_string(o.timeoutSeconds) + " s");
    }
    const double openSeconds = ms(start, Clock::now()) / 1000.0;
    long rssOpen = readRssKb(o.serverPid);
    std::this_thread::sleep_for(std::chrono::seconds(o.holdSeconds));
    long rssHeld = readRssKb(o.serverPid);

    const int opened = load._opened.load();
    load.echoAll();
    if (!waitUntil([&] { return load._echoed.load() >= opened; },
                   Clock::now() + std::chrono::seconds(o.timeoutSeconds))) {
        gErrors.add("echo: " + std::to_string(load._echoed.load()) + " of " +
                    std::to_string(opened) + " came back");
    }
    std::vector<double> once = load.onceSamples();

    std::vector<double> loop;
    double loopSeconds = 0;
    int busy = std::min(o.busy, opened);
    if (o.durationSeconds > 0 && busy > 0) {
        load.loop(busy);
        std::this_thread::sleep_for(std::chrono::seconds(1));
        load._measuring = true;
        const Clock::time_point t0 = Clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(o.durationSeconds));
        load._measuring = false;
        loopSeconds = ms(t0, Clock::now()) / 1000.0;
        load._running = false;
        if (!waitUntil([&] { return load._inFlight.load() == 0; },
                       Clock::now() + std::chrono::seconds(10))) {
            gErrors.add("echo loop: " + std::to_string(load._inFlight.load()) +
                        " messages never came back");
        }
        loop = load.loopSamples();
    }

    const Clock::time_point closeStart = Clock::now();
    load.closeAll();
    if (!waitUntil([&] { return load._closed.load() >= n; },
                   closeStart + std::chrono::seconds(o.timeoutSeconds))) {
        gErrors.add("close: " + std::to_string(load._closed.load()) + " of " + std::to_string(n) +
                    " closed");
    }
    const double closeSeconds = ms(closeStart, Clock::now()) / 1000.0;

    char buf[64];
    std::string r = "\"connections\":" + std::to_string(n) +
                    ",\"opened\":" + std::to_string(opened) +
                    ",\"echoed\":" + std::to_string(load._echoed.load());
    std::snprintf(buf, sizeof(buf), "%.3f", openSeconds);
    r += ",\"open_seconds\":" + std::string(buf);
    std::snprintf(buf, sizeof(buf), "%.0f", opened / std::max(openSeconds, 1e-9));
    r += ",\"open_per_s\":" + std::string(buf) + "," + latencyJson("echo", once);
    if (!loop.empty()) {
        std::snprintf(buf, sizeof(buf), "%.0f", static_cast<double>(load._trips) / loopSeconds);
        r += ",\"busy\":" + std::to_string(busy) + ",\"loop_round_trips_per_s\":" + buf + "," +
             latencyJson("loop", loop);
    }
    std::snprintf(buf, sizeof(buf), "%.3f", closeSeconds);
    r += ",\"close_seconds\":" + std::string(buf) + ",\"pongs\":" + std::to_string(load.pongs()) +
         ",\"errors\":" + std::to_string(gErrors.total());
    if (o.serverPid != 0) {
        r += ",\"server_rss_before_kb\":" + rssJson(rssBefore) +
             ",\"server_rss_open_kb\":" + rssJson(rssOpen) +
             ",\"server_rss_held_kb\":" + rssJson(rssHeld);
    }
    printResult(o.name.empty() ? "websocket-echo" : o.name, r);
    return gErrors.total() == 0 && opened == n ? 0 : 1;
}

}  // namespace sigload
