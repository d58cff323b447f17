// sb-chatload: load client for the chat protocol (plugins/messaging) over TLS. Non-blocking
// OpenSSL connections on a few epoll threads, so thousands of connections fit in two threads.
// Modes: register (REG the accounts), saturate (each sender keeps --depth messages in flight),
// open (a fixed total --rate spread over the senders, sent on schedule whatever the ACKs; the
// latency is measured from the scheduled send time) and idle (hold --connections TLS
// connections, then check each still answers). Prints one JSON result line.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum Type { ACK, ERR, DIS, MSG, LOG, SES, REG, LIS, FRP, HIS, UPD, CHP, CHM, DEL };

struct Options {
    std::string mode = "saturate";
    int port = 7777;
    int pairs = 500;
    int connections = 0;  ///< idle mode
    int threads = 2;
    int depth = 16;
    double rate = 25000;
    double seconds = 10;
    double warmup = 2;
    std::string prefix = "bench";
    std::string password = "bench-password-1";
    int maxHandshakes = 64;
};

std::int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

std::string frame(int type, const std::string& payload) {
    std::string f;
    f += static_cast<char>((1 << 6) | type);
    f += static_cast<char>((payload.size() >> 8) & 0xff);
    f += static_cast<char>(payload.size() & 0xff);
    return f + payload;
}

enum class State { Connecting, Handshake, LoggingIn, Ready, Closed };

struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    State state = State::Connecting;
    std::string in;
    std::string out;
    bool wantWrite = false;
    int index = 0;  ///< user index
    int peer = -1;  ///< receiver's user index (senders)
    bool sender = false;
    std::string user;
    // counters
    std::int64_t inFlight = 0;
    std::int64_t seq = 0;
    std::int64_t sent = 0, acked = 0, errors = 0, received = 0;
    std::int64_t nextDueNs = 0;  ///< open loop: scheduled time of the next message
    bool replied = false;        ///< idle / register: an answer arrived
};

struct Shared {
    Options opt;
    SSL_CTX* ctx = nullptr;
    std::atomic<int> ready{0};
    std::atomic<int> failed{0};
    std::atomic<bool> go{false};       ///< all logged in: start sending
    std::atomic<bool> measure{false};  ///< past warm-up
    std::atomic<bool> stopSending{false};
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> measuredDelivered{0};
    std::int64_t sendStartNs = 0;
    std::mutex mutex;
    std::vector<std::uint32_t> latencyUs;  ///< merged samples
};

class Worker {
public:
    Worker(Shared& shared, std::vector<int> users) : _s(shared), _users(std::move(users)) {}

    void run() {
        _epoll = epoll_create1(0);
        for (int u : _users) {
            auto c = std::make_unique<Conn>();
            c->index = u;
            c->user = _s.opt.prefix + std::to_string(u);
            if (_s.opt.mode == "saturate" || _s.opt.mode == "open") {
                c->sender = u % 2 == 0;
                c->peer = c->sender ? u + 1 : -1;
            }
            _conns.push_back(std::move(c));
        }
        std::size_t nextToOpen = 0;
        std::vector<std::uint32_t> samples;
        samples.reserve(1 << 20);
        epoll_event events[256];
        while (!_s.stop) {
            // Open connections with a bound on handshakes in progress.
            while (nextToOpen < _conns.size() && _handshaking < _s.opt.maxHandshakes) {
                open(*_conns[nextToOpen++]);
            }
            int n = epoll_wait(_epoll, events, 256, 1);
            for (int i = 0; i < n; ++i) {
                Conn& c = *static_cast<Conn*>(events[i].data.ptr);
                if (c.state == State::Closed) {
                    continue;
                }
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    fail(c);
                    continue;
                }
                step(c, samples);
            }
            if (_s.go) {
                pump();
            }
            if (samples.size() > (1u << 19)) {
                flushSamples(samples);
            }
        }
        flushSamples(samples);
    }

    std::int64_t sum(std::int64_t Conn::*field) const {
        std::int64_t total = 0;
        for (const auto& c : _conns) {
            total += (*c).*field;
        }
        return total;
    }
    int replied() const {
        int n = 0;
        for (const auto& c : _conns) {
            n += c->replied ? 1 : 0;
        }
        return n;
    }
    int open() const {
        int n = 0;
        for (const auto& c : _conns) {
            n += c->state != State::Closed ? 1 : 0;
        }
        return n;
    }
    /// Idle mode: one LIS on every open connection (answered "Not logged in").
    void probe() { _probe = true; }

private:
    void flushSamples(std::vector<std::uint32_t>& samples) {
        std::lock_guard<std::mutex> lock(_s.mutex);
        _s.latencyUs.insert(_s.latencyUs.end(), samples.begin(), samples.end());
        samples.clear();
    }

    void open(Conn& c) {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(_s.opt.port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
            errno != EINPROGRESS) {
            fail(c);
            return;
        }
        c.ssl = SSL_new(_s.ctx);
        SSL_set_fd(c.ssl, c.fd);
        // One read() per arrival instead of one for each record's header and one for its body:
        // the client shares the cores with the server it measures, so it must cost little.
        SSL_set_read_ahead(c.ssl, 1);
        SSL_set_connect_state(c.ssl);
        c.state = State::Handshake;
        ++_handshaking;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = &c;
        epoll_ctl(_epoll, EPOLL_CTL_ADD, c.fd, &ev);
    }

    void fail(Conn& c) {
        if (c.state == State::Closed) {
            return;
        }
        if (c.state == State::Handshake) {
            --_handshaking;
        }
        if (c.state != State::Ready) {
            ++_s.failed;
        }
        c.state = State::Closed;
        epoll_ctl(_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
    }

    void step(Conn& c, std::vector<std::uint32_t>& samples) {
        if (c.state == State::Handshake) {
            int r = SSL_do_handshake(c.ssl);
            if (r != 1) {
                int e = SSL_get_error(c.ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    fail(c);
                }
                return;
            }
            --_handshaking;
            if (_s.opt.mode == "idle") {
                c.state = State::Ready;
                ++_s.ready;
            } else if (_s.opt.mode == "register") {
                c.state = State::Ready;
                queue(c,
                      frame(REG, "{\"login\":\"" + c.user + "\",\"password\":\"" + _s.opt.password +
                                     "\",\"email\":\"" + c.user + "@bench.example\"}"));
            } else {
                c.state = State::LoggingIn;
                queue(c, frame(LOG, "{\"login\":\"" + c.user + "\",\"password\":\"" +
                                        _s.opt.password + "\"}"));
            }
        }
        readAll(c, samples);
        flush(c);
    }

    void queue(Conn& c, const std::string& bytes) { c.out += bytes; }

    void flush(Conn& c) {
        while (!c.out.empty() && c.state != State::Closed && c.state != State::Handshake) {
            int n = SSL_write(c.ssl, c.out.data(),
                              static_cast<int>(std::min<std::size_t>(c.out.size(), 64 * 1024)));
            if (n <= 0) {
                int e = SSL_get_error(c.ssl, n);
                if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
                    fail(c);
                }
                return;
            }
            c.out.erase(0, static_cast<std::size_t>(n));
        }
    }

    void readAll(Conn& c, std::vector<std::uint32_t>& samples) {
        char buffer[65536];
        while (c.state != State::Closed && c.state != State::Handshake) {
            int n = SSL_read(c.ssl, buffer, sizeof buffer);
            if (n <= 0) {
                int e = SSL_get_error(c.ssl, n);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    fail(c);
                }
                break;
            }
            c.in.append(buffer, static_cast<std::size_t>(n));
        }
        std::size_t at = 0;
        while (c.in.size() - at >= 3) {
            auto* h = reinterpret_cast<const unsigned char*>(c.in.data() + at);
            std::size_t length = (static_cast<std::size_t>(h[1]) << 8) | h[2];
            if (c.in.size() - at < 3 + length) {
                break;
            }
            onFrame(c, h[0] & 0x3f, std::string_view(c.in.data() + at + 3, length), samples);
            at += 3 + length;
        }
        c.in.erase(0, at);
    }

    void onFrame(Conn& c, int type, std::string_view payload, std::vector<std::uint32_t>& samples) {
        switch (type) {
            case LIS:
                if (c.state == State::LoggingIn && payload.find("\"more\"") == std::string::npos) {
                    c.state = State::Ready;
                    ++_s.ready;
                }
                break;
            case ACK:
                c.replied = true;
                if (c.sender) {
                    ++c.acked;
                    --c.inFlight;
                }
                break;
            case ERR:
                c.replied = true;
                if (_s.opt.mode == "register" &&
                    payload.find("already taken") != std::string::npos) {
                    break;  // registered by an earlier run
                }
                if (_s.opt.mode == "idle") {
                    break;  // the probe's answer ("Not logged in")
                }
                ++c.errors;
                if (c.sender) {
                    --c.inFlight;
                }
                if (c.errors <= 3) {
                    std::fprintf(stderr, "ERR on %s: %.*s\n", c.user.c_str(),
                                 static_cast<int>(payload.size()), payload.data());
                }
                break;
            case MSG: {
                ++c.received;
                std::size_t at = payload.find("\"msg\":\"");
                if (at == std::string::npos) {
                    break;
                }
                std::int64_t sentNs = std::strtoll(payload.data() + at + 7, nullptr, 10);
                if (_s.measure && sentNs >= _s.sendStartNs) {
                    ++_s.measuredDelivered;
                    samples.push_back(static_cast<std::uint32_t>(
                        std::min<std::int64_t>((nowNs() - sentNs) / 1000, UINT32_MAX)));
                }
                break;
            }
            case DIS:
                fail(c);
                break;
            default:
                break;
        }
    }

    void sendMessage(Conn& c, std::int64_t stampNs) {
        ++c.seq;
        ++c.sent;
        ++c.inFlight;
        queue(c, frame(MSG, "{\"reciever\":\"" + _s.opt.prefix + std::to_string(c.peer) +
                                "\",\"msg\":\"" + std::to_string(stampNs) + " " +
                                std::to_string(c.seq) + "\"}"));
    }

    /// Sends what is due on every sender.
    void pump() {
        if (_probe.exchange(false)) {
            for (auto& c : _conns) {
                if (c->state == State::Ready) {
                    queue(*c, frame(LIS, "{}"));
                    flush(*c);
                }
            }
        }
        if (_s.stopSending || (_s.opt.mode != "saturate" && _s.opt.mode != "open")) {
            return;
        }
        std::int64_t now = nowNs();
        double perSender = _s.opt.rate / _s.opt.pairs;
        auto interval = static_cast<std::int64_t>(1e9 / perSender);
        for (auto& cp : _conns) {
            Conn& c = *cp;
            if (!c.sender || c.state != State::Ready) {
                continue;
            }
            if (_s.opt.mode == "saturate") {
                while (c.inFlight < _s.opt.depth) {
                    sendMessage(c, now);
                }
            } else {
                if (c.nextDueNs == 0) {  // spread the senders' schedules over one interval
                    c.nextDueNs = _s.sendStartNs + interval * c.index / (2 * _s.opt.pairs);
                }
                while (c.nextDueNs <= now) {
                    sendMessage(c, c.nextDueNs);
                    c.nextDueNs += interval;
                }
            }
            flush(c);
        }
    }

    Shared& _s;
    std::vector<int> _users;
    std::vector<std::unique_ptr<Conn>> _conns;
    int _epoll = -1;
    int _handshaking = 0;
    std::atomic<bool> _probe{false};
};

double percentile(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) {
        return 0;
    }
    std::size_t k =
        std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k] / 1000.0;
}

void usage() {
    std::fprintf(stderr,
                 "usage: sb-chatload --mode register|saturate|open|idle [--port 7777] "
                 "[--pairs 500] [--connections N (idle)] [--threads 2] [--depth 16] "
                 "[--rate 25000] [--seconds 10] [--warmup 2] [--prefix bench] "
                 "[--password P]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    Shared s;
    Options& o = s.opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
            }
            return argv[++i];
        };
        if (a == "--mode")
            o.mode = value();
        else if (a == "--port")
            o.port = std::stoi(value());
        else if (a == "--pairs")
            o.pairs = std::stoi(value());
        else if (a == "--connections")
            o.connections = std::stoi(value());
        else if (a == "--threads")
            o.threads = std::stoi(value());
        else if (a == "--depth")
            o.depth = std::stoi(value());
        else if (a == "--rate")
            o.rate = std::stod(value());
        else if (a == "--seconds")
            o.seconds = std::stod(value());
        else if (a == "--warmup")
            o.warmup = std::stod(value());
        else if (a == "--prefix")
            o.prefix = value();
        else if (a == "--password")
            o.password = value();
        else
            usage();
    }
    int total = o.mode == "idle" ? o.connections : 2 * o.pairs;
    if (total <= 0) {
        usage();
    }
    SSL_library_init();
    s.ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(s.ctx, SSL_MODE_RELEASE_BUFFERS);
    if (o.mode == "register") {
        o.threads = 1;
        o.maxHandshakes = 16;
    }
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < o.threads; ++t) {
        std::vector<int> users;
        // A pair (2k, 2k+1) shares a thread: no cross-thread state.
        for (int u = 0; u < total; ++u) {
            if ((o.mode == "idle" ? u : u / 2) % o.threads == t) {
                users.push_back(u);
            }
        }
        workers.push_back(std::make_unique<Worker>(s, users));
    }
    std::vector<std::thread> threads;
    for (auto& w : workers) {
        threads.emplace_back([&w] { w->run(); });
    }
    auto started = Clock::now();
    auto secondsSince = [](Clock::time_point t) {
        return std::chrono::duration<double>(Clock::now() - t).count();
    };
    auto finish = [&] {
        s.stop = true;
        for (auto& t : threads) {
            t.join();
        }
    };
    auto sum = [&](std::int64_t Conn::*field) {
        std::int64_t n = 0;
        for (auto& w : workers) {
            n += w->sum(field);
        }
        return n;
    };

    if (o.mode == "register") {
        // Each connection sends one REG; wait until all answered (or 120 s).
        while (secondsSince(started) < 120) {
            int replied = 0;
            for (auto& w : workers) {
                replied += w->replied();
            }
            if (replied + s.failed >= total) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        finish();
        std::printf(
            "{\"mode\":\"register\",\"accounts\":%d,\"errors\":%lld,\"failed\":%d,"
            "\"seconds\":%.1f}\n",
            total, static_cast<long long>(sum(&Conn::errors)), s.failed.load(),
            secondsSince(started));
        return sum(&Conn::errors) == 0 && s.failed == 0 ? 0 : 1;
    }

    // Log in (or connect) everyone.
    while (s.ready + s.failed < total && secondsSince(started) < 300) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double setup = secondsSince(started);
    std::fprintf(stderr, "# %d/%d connections ready in %.1f s (%d failed)\n", s.ready.load(), total,
                 setup, s.failed.load());
    if (o.mode == "idle") {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
        s.go = true;
        for (auto& w : workers) {
            w->probe();
        }
        auto probeAt = Clock::now();
        int replied = 0;
        while (secondsSince(probeAt) < 30) {
            replied = 0;
            for (auto& w : workers) {
                replied += w->replied();
            }
            if (replied >= s.ready) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        int open = 0;
        for (auto& w : workers) {
            open += w->open();
        }
        finish();
        std::printf(
            "{\"mode\":\"idle\",\"connections\":%d,\"ready\":%d,\"held\":%d,"
            "\"answered_after_hold\":%d,\"setup_s\":%.1f,\"hold_s\":%.0f}\n",
            total, s.ready.load(), open, replied, setup, o.seconds);
        return replied == total ? 0 : 1;
    }

    s.sendStartNs = nowNs();
    s.go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
    std::int64_t warmDelivered = sum(&Conn::received);
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.latencyUs.clear();
    }
    s.sendStartNs = nowNs();  // latency samples only of messages sent from now on
    s.measure = true;
    auto measureFrom = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    s.measure = false;
    double measured = secondsSince(measureFrom);
    std::int64_t deliveredInWindow = s.measuredDelivered.load();
    std::int64_t receivedAtEnd = sum(&Conn::received);
    s.stopSending = true;
    // Drain: every ACKed message must arrive.
    auto drainFrom = Clock::now();
    while (secondsSince(drainFrom) < 30) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (sum(&Conn::received) >= sum(&Conn::acked) &&
            sum(&Conn::acked) + sum(&Conn::errors) >= sum(&Conn::sent)) {
            break;
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    finish();
    std::int64_t sent = sum(&Conn::sent), acked = sum(&Conn::acked), errors = sum(&Conn::errors),
                 received = sum(&Conn::received);
    std::vector<std::uint32_t> lat = std::move(s.latencyUs);
    double p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99), p999 = percentile(lat, 0.999);
    double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()) / 1000.0;
    double rate = static_cast<double>(receivedAtEnd - warmDelivered) / measured;
    std::printf(
        "{\"mode\":\"%s\",\"connections\":%d,\"pairs\":%d,\"depth\":%d,\"offered\":%.0f,"
        "\"delivered_per_s\":%.0f,\"delivered_in_window\":%lld,\"sent\":%lld,"
        "\"acked\":%lld,\"errors\":%lld,\"received\":%lld,\"lost\":%lld,"
        "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f,"
        "\"failed\":%d,\"seconds\":%.1f}\n",
        o.mode.c_str(), total, o.pairs, o.mode == "saturate" ? o.depth : 0,
        o.mode == "open" ? o.rate : 0.0, rate, static_cast<long long>(deliveredInWindow),
        static_cast<long long>(sent), static_cast<long long>(acked), static_cast<long long>(errors),
        static_cast<long long>(received),
        static_cast<long long>(std::max<std::int64_t>(0, acked - received)), p50, p99, p999, max,
        s.failed.load(), measured);
    return acked <= received && s.failed == 0 ? 0 : 1;
}
