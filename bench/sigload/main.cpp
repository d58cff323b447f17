// sb-sigload: the signaling plugin's load client (issue 9), a separate executable beside
// sb-wsload (whose blocking, thread-per-slice client and CLI the tests keep using). Holds up to
// 100,000+ WebSockets on a few epoll threads (EventClient) and runs one scenario per invocation:
//   hold    N agents connect and register, presence is checked, the server's RSS sampled
//   fanout  peer_online / peer_offline fan-out latency to K peers of one organization
//   relay   signal round trips between pairs of agents
//   echo    the client core alone, against an echo WebSocket (testkit's /testkit/ws)
// One JSON line per result on stdout; exit status 0 only when the run had no error.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "Common.h"

namespace {

using sigload::Options;

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
    out << "usage: sb-sigload hold|fanout|relay|echo --port PORT [options]\n"
           "common:  --host 127.0.0.1  --path /ws (echo: /testkit/ws)  --threads 2\n"
           "         --bind FIRST_SOURCE_ADDRESS --bind-count N (source addresses FIRST..+N-1)\n"
           "         --server-pid PID  --window 512 (connections between connect and\n"
           "         registration at once)  --timeout 120  --settle 30  --token-header\n"
           "         --name BENCH_NAME\n"
           "hold:    --agents FILE [--count N (all lines)] [--hold SECONDS (10; SIGUSR1 ends\n"
           "         it early)]\n"
           "fanout:  --agents FILE [--peers K (1000)] [--rounds R (20)] [--warmup W (2)]\n"
           "         [--ignore PREFIX (announcements of peers whose id starts with it)]\n"
           "         [--new-port PORT (the new agent registers on another node: cross-node\n"
           "         presence)]\n"
           "relay:   --agents FILE [--pairs P (100)] [--duration SECONDS (10)]\n"
           "         [--payload BYTES (64)]\n"
           "echo:    --connections N [--hold SECONDS (10)] [--busy C (100)]\n"
           "         [--duration SECONDS (0: no echo loop)] [--payload BYTES]\n"
           "The agents file has one line per agent: ORGANIZATION_ID JWT (written by\n"
           "bench/signaling_setup.py).\n";
}

Options parseOptions(int argc, char** argv) {
    Options o;
    if (argc < 2) {
        throw std::invalid_argument("no scenario given");
    }
    o.scenario = argv[1];
    if (o.scenario == "--help" || o.scenario == "-h") {
        usage(std::cout);
        std::exit(0);
    }
    bool durationSet = false;
    for (int i = 2; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--token-header") {
            o.tokenHeader = true;
            continue;
        }
        if (i + 1 >= argc) {
            throw std::invalid_argument("unknown option or missing value: " + arg);
        }
        const char* v = argv[++i];
        if (arg == "--host") {
            o.host = v;
        } else if (arg == "--port") {
            o.port = parseInt(arg, v, 1, 65535);
        } else if (arg == "--path") {
            o.path = v;
        } else if (arg == "--threads") {
            o.threads = parseInt(arg, v, 1, 64);
        } else if (arg == "--bind") {
            o.bindFirst = v;
        } else if (arg == "--bind-count") {
            o.bindCount = parseInt(arg, v, 1, 65536);
        } else if (arg == "--server-pid") {
            o.serverPid = parseInt(arg, v, 1, 1 << 30);
        } else if (arg == "--window") {
            o.window = parseInt(arg, v, 1, 1000000);
        } else if (arg == "--timeout") {
            o.timeoutSeconds = parseInt(arg, v, 1, 86400);
        } else if (arg == "--settle") {
            o.settleSeconds = parseInt(arg, v, 0, 86400);
        } else if (arg == "--agents") {
            o.agentsFile = v;
        } else if (arg == "--count") {
            o.count = parseInt(arg, v, 1, 10000000);
        } else if (arg == "--hold") {
            o.holdSeconds = parseInt(arg, v, 0, 86400);
        } else if (arg == "--peers") {
            o.peers = parseInt(arg, v, 1, 1000000);
        } else if (arg == "--new-port") {
            o.newPort = parseInt(arg, v, 1, 65535);
        } else if (arg == "--ignore") {
            o.ignorePrefix = v;
        } else if (arg == "--rounds") {
            o.rounds = parseInt(arg, v, 1, 1000000);
        } else if (arg == "--warmup") {
            o.warmup = parseInt(arg, v, 0, 1000000);
        } else if (arg == "--pairs") {
            o.pairs = parseInt(arg, v, 1, 5000000);
        } else if (arg == "--duration") {
            o.durationSeconds = parseInt(arg, v, 0, 86400);
            durationSet = true;
        } else if (arg == "--connections") {
            o.connections = parseInt(arg, v, 1, 10000000);
        } else if (arg == "--busy") {
            o.busy = parseInt(arg, v, 1, 10000000);
        } else if (arg == "--payload") {
            o.payload = parseInt(arg, v, 0, 16 * 1024 * 1024);
        } else if (arg == "--name") {
            o.name = v;
        } else {
            throw std::invalid_argument("unknown option: " + arg);
        }
    }
    if (o.port == 0) {
        throw std::invalid_argument("--port is required");
    }
    if (o.scenario == "echo") {
        if (o.path.empty()) {
            o.path = "/testkit/ws";
        }
        if (!durationSet) {
            o.durationSeconds = 0;
        }
    } else if (o.scenario == "hold" || o.scenario == "fanout" || o.scenario == "relay") {
        if (o.agentsFile.empty()) {
            throw std::invalid_argument(o.scenario + " needs --agents FILE");
        }
        if (o.path.empty()) {
            o.path = "/ws";
        }
    } else {
        throw std::invalid_argument("unknown scenario '" + o.scenario + "'");
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        o = parseOptions(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "sb-sigload: " << e.what() << "\n";
        usage(std::cerr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, [](int) { sigload::gEndHold = true; });
    int rc = 1;
    try {
        if (o.scenario == "hold") {
            rc = sigload::runHold(o);
        } else if (o.scenario == "fanout") {
            rc = sigload::runFanout(o);
        } else if (o.scenario == "relay") {
            rc = sigload::runRelay(o);
        } else {
            rc = sigload::runEcho(o);
        }
    } catch (const std::exception& e) {
        std::cerr << "sb-sigload: " << e.what() << "\n";
        rc = 2;
    }
    sigload::gErrors.summary();
    return rc;
}
