// sb-wsload: WebSocket load client. Opens N client WebSockets, holds them, optionally echoes one
// text frame on each, optionally samples the server's RSS, closes them cleanly and prints one
// JSON result line. Exit status 0 only if every connection opened (and echoed, with --echo).

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Poco::Net::WebSocket;
using Clock = std::chrono::steady_clock;

const Poco::Timespan kIoTimeout(10, 0);
const std::size_t kMaxShownErrors = 5;

struct Options {
    std::string url;
    int connections = 0;
    int holdSeconds = 5;
    bool echo = false;
    int threads = 4;
    int serverPid = 0;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Where and how to connect; built once from --url and shared read-only by the opener threads.
struct Target {
    std::string host;
    Poco::UInt16 port = 0;
    std::string pathAndQuery;
};

// Collects errors from all threads; prints each of the first kMaxShownErrors distinct messages
// once, and counts the rest.
class ErrorLog {
public:
    void add(const std::string& what) {
        std::lock_guard<std::mutex> lock(_mutex);
        ++_total;
        if (_seen.size() < kMaxShownErrors && _seen.insert(what).second) {
            std::cerr << "sb-wsload: " << what << "\n";
        }
    }
    void summary() const {
        if (_total > 0) {
            std::cerr << "sb-wsload: " << _total << " error(s) in total\n";
        }
    }

private:
    std::mutex _mutex;
    std::set<std::string> _seen;
    long _total = 0;
};

ErrorLog gErrors;

int parseInt(const std::string& name, const char* value, int min, int max) {
    char* end = nullptr;
    long v = std::strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || v < min || v > max) {
        throw std::invalid_argument(name + " must be an integer in [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "], got '" + value + "'");
    }
    return static_cast<int>(v);
}

void usage(std::ostream& out) {
    out << "usage: sb-wsload --url ws://HOST:PORT/PATH --connections N [--hold SECONDS (5)]\n"
           "                 [--echo] [--threads T (4)] [--server-pid PID]\n"
           "                 [--header 'Name: value']...\n";
}

Options parseOptions(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            std::exit(0);
        }
        if (arg == "--echo") {
            o.echo = true;
            continue;
        }
        if (i + 1 >= argc) {
            throw std::invalid_argument("unknown option or missing value: " + arg);
        }
        const char* value = argv[++i];
        if (arg == "--url") {
            o.url = value;
        } else if (arg == "--connections") {
            o.connections = parseInt(arg, value, 1, 10000000);
        } else if (arg == "--hold") {
            o.holdSeconds = parseInt(arg, value, 0, 86400);
        } else if (arg == "--threads") {
            o.threads = parseInt(arg, value, 1, 1024);
        } else if (arg == "--server-pid") {
            o.serverPid = parseInt(arg, value, 1, 1 << 30);
        } else if (arg == "--header") {
            std::string h = value;
            std::size_t colon = h.find(':');
            if (colon == std::string::npos || colon == 0) {
                throw std::invalid_argument("--header must look like 'Name: value', got '" + h +
                                            "'");
            }
            std::size_t start = h.find_first_not_of(" \t", colon + 1);
            o.headers.emplace_back(h.substr(0, colon),
                                   start == std::string::npos ? "" : h.substr(start));
        } else {
            throw std::invalid_argument("unknown option: " + arg);
        }
    }
    if (o.url.empty() || o.connections == 0) {
        throw std::invalid_argument("--url and --connections are required");
    }
    return o;
}

Target makeTarget(const std::string& url) {
    Poco::URI uri(url);
    Target t;
    // wss is left out on purpose: TLS is terminated in front of Switchboard (POCO-NOTES.md §2).
    if (uri.getScheme() != "ws") {
        throw std::invalid_argument("--url must start with ws://, got '" + url + "'");
    }
    t.host = uri.getHost();
    t.port = uri.getPort() != 0 ? uri.getPort() : 80;
    t.pathAndQuery = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
    return t;
}

void raiseFileLimit(int connections) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        std::cerr << "sb-wsload: could not raise RLIMIT_NOFILE: " << std::strerror(errno) << "\n";
    }
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < static_cast<rlim_t>(connections) + 32) {
        std::cerr << "sb-wsload: warning: open-files limit " << lim.rlim_cur << " is below "
                  << connections << " connections\n";
    }
}

// Returns VmRSS of pid in kB, or -1 if it cannot be read.
long readRssKb(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, 6, "VmRSS:") == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    gErrors.add("cannot read VmRSS of pid " + std::to_string(pid));
    return -1;
}

// Runs fn(begin, end) on `threads` threads over disjoint contiguous slices of [0, n).
void runSliced(int n, int threads, const std::function<void(int, int)>& fn) {
    std::vector<std::thread> pool;
    int per = (n + threads - 1) / threads;
    for (int begin = 0; begin < n; begin += per) {
        pool.emplace_back(fn, begin, std::min(n, begin + per));
    }
    for (std::thread& t : pool) {
        t.join();
    }
}

// The HTTP session only lives for the handshake: the WebSocket takes over its socket (and any
// bytes already buffered), so each open connection costs a socket and a small WebSocketImpl.
std::unique_ptr<WebSocket> openOne(const Target& t, const Options& o) {
    Poco::Net::HTTPClientSession session(t.host, t.port);
    session.setTimeout(kIoTimeout, kIoTimeout, kIoTimeout);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, t.pathAndQuery,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& h : o.headers) {
        request.set(h.first, h.second);
    }
    Poco::Net::HTTPResponse response;
    std::unique_ptr<WebSocket> ws;
    try {
        ws = std::make_unique<WebSocket>(session, request, response);
    } catch (const Poco::Net::WebSocketException& e) {
        // Name the server's answer: "HTTP 404" says more than "no handshake".
        throw Poco::Net::WebSocketException(
            e.message() + " (HTTP " + std::to_string(response.getStatus()) + ")", e.code());
    }
    ws->setReceiveTimeout(kIoTimeout);
    ws->setSendTimeout(kIoTimeout);
    return ws;
}

std::string describe(const std::exception& e) {
    if (auto* pe = dynamic_cast<const Poco::Exception*>(&e)) {
        return pe->displayText();
    }
    return e.what();
}

// True once ws has data to read, false if the deadline passes first. Bytes the WebSocket already
// buffered during the handshake are invisible to poll(), hence available() first.
bool readableBy(WebSocket& ws, Clock::time_point deadline) {
    if (ws.available() > 0) {
        return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    return ws.poll(Poco::Timespan(std::max<Poco::Timespan::TimeDiff>(left.count(), 0)),
                   Poco::Net::Socket::SELECT_READ);
}

// Waits for msg to come back as a text frame, answering pings and skipping pongs.
bool awaitEcho(WebSocket& ws, const std::string& msg, Clock::time_point deadline) {
    char buf[256];
    for (;;) {
        if (!readableBy(ws, deadline)) {
            gErrors.add("echo: no reply within the receive timeout");
            return false;
        }
        int flags = 0;
        int n = ws.receiveFrame(buf, sizeof(buf), flags);
        int op = flags & WebSocket::FRAME_OP_BITMASK;
        if (n == 0 && flags == 0) {
            gErrors.add("echo: connection closed by server");
            return false;
        }
        if (op == WebSocket::FRAME_OP_PING) {
            ws.sendFrame(buf, n, WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_PONG);
            continue;
        }
        if (op == WebSocket::FRAME_OP_PONG) {
            continue;
        }
        if (op == WebSocket::FRAME_OP_CLOSE) {
            gErrors.add("echo: server sent a close frame");
            return false;
        }
        if (n == static_cast<int>(msg.size()) && std::memcmp(buf, msg.data(), n) == 0) {
            return true;
        }
        gErrors.add("echo: reply differs from the text sent");
        return false;
    }
}

// Sends "ping-<i>" on every socket of the slice first and then collects the replies, so a server
// that never answers costs one receive timeout per slice rather than one per connection.
void echoSlice(std::vector<std::unique_ptr<WebSocket>>& sockets, int begin, int end,
               std::atomic<int>& echoOk) {
    std::vector<bool> sent(end - begin, false);
    for (int i = begin; i < end; ++i) {
        if (!sockets[i]) {
            continue;
        }
        const std::string msg = "ping-" + std::to_string(i);
        try {
            sockets[i]->sendFrame(msg.data(), static_cast<int>(msg.size()), WebSocket::FRAME_TEXT);
            sent[i - begin] = true;
        } catch (const std::exception& e) {
            gErrors.add("echo: " + describe(e));
        }
    }
    const Clock::time_point deadline =
        Clock::now() + std::chrono::microseconds(kIoTimeout.totalMicroseconds());
    for (int i = begin; i < end; ++i) {
        if (!sent[i - begin]) {
            continue;
        }
        try {
            if (awaitEcho(*sockets[i], "ping-" + std::to_string(i), deadline)) {
                echoOk.fetch_add(1, std::memory_order_relaxed);
            }
        } catch (const std::exception& e) {
            gErrors.add("echo: " + describe(e));
        }
    }
}

// Sends a close frame on every socket of the slice, then waits (until a shared deadline) for the
// server's close reply so that closing does not reset connections with unread data.
void closeSlice(std::vector<std::unique_ptr<WebSocket>>& sockets, int begin, int end) {
    for (int i = begin; i < end; ++i) {
        if (!sockets[i]) {
            continue;
        }
        try {
            sockets[i]->shutdown(WebSocket::WS_NORMAL_CLOSE);
        } catch (const std::exception&) {
            sockets[i]->close();
            sockets[i].reset();
        }
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
    char buf[256];
    for (int i = begin; i < end; ++i) {
        if (!sockets[i]) {
            continue;
        }
        try {
            while (readableBy(*sockets[i], deadline)) {
                int flags = 0;
                int n = sockets[i]->receiveFrame(buf, sizeof(buf), flags);
                if ((n == 0 && flags == 0) ||
                    (flags & WebSocket::FRAME_OP_BITMASK) == WebSocket::FRAME_OP_CLOSE) {
                    break;
                }
            }
        } catch (const std::exception&) {
            // The server may already have gone; the socket is closed below either way.
        }
        sockets[i]->close();
        sockets[i].reset();
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options opts;
    Target target;
    try {
        opts = parseOptions(argc, argv);
        target = makeTarget(opts.url);
    } catch (const std::exception& e) {
        std::cerr << "sb-wsload: " << describe(e) << "\n";
        usage(std::cerr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raiseFileLimit(opts.connections);
    const int n = opts.connections;
    const int threads = std::min(opts.threads, n);

    long rssBefore = opts.serverPid != 0 ? readRssKb(opts.serverPid) : 0;

    std::vector<std::unique_ptr<WebSocket>> sockets(n);
    std::atomic<int> opened{0};
    const Clock::time_point openStart = Clock::now();
    runSliced(n, threads, [&](int begin, int end) {
        for (int i = begin; i < end; ++i) {
            try {
                sockets[i] = openOne(target, opts);
                opened.fetch_add(1, std::memory_order_relaxed);
            } catch (const std::exception& e) {
                gErrors.add("open: " + describe(e));
            }
        }
    });
    const double openSeconds = std::chrono::duration<double>(Clock::now() - openStart).count();

    std::this_thread::sleep_for(std::chrono::seconds(opts.holdSeconds));
    long rssAfter = opts.serverPid != 0 ? readRssKb(opts.serverPid) : 0;

    std::atomic<int> echoOk{0};
    if (opts.echo) {
        runSliced(n, threads, [&](int begin, int end) { echoSlice(sockets, begin, end, echoOk); });
    }

    runSliced(n, threads, [&](int begin, int end) { closeSlice(sockets, begin, end); });

    std::ostringstream out;
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.3f", openSeconds);
    out << "{\"requested\":" << n << ",\"opened\":" << opened.load()
        << ",\"failed\":" << n - opened.load();
    if (opts.echo) {
        out << ",\"echo_ok\":" << echoOk.load() << ",\"echo_failed\":" << n - echoOk.load();
    }
    out << ",\"open_seconds\":" << seconds;
    if (opts.serverPid != 0) {
        auto kb = [](long v) { return v < 0 ? std::string("null") : std::to_string(v); };
        out << ",\"server_rss_before_kb\":" << kb(rssBefore)
            << ",\"server_rss_after_kb\":" << kb(rssAfter);
    }
    out << "}";
    std::cout << out.str() << std::endl;
    gErrors.summary();

    bool ok = opened.load() == n && (!opts.echo || echoOk.load() == n);
    return ok ? 0 : 1;
}
