// sb-bare-server: the reference "bare POCO" HTTP server for benchmarks. Every request gets its
// body drained and a fixed 200 JSON reply, so numbers for Switchboard routes can be compared
// with what POCO 1.11 itself does on the same machine (POCO-NOTES.md §1).

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timespan.h>

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

const char kBody[] =
    "{\"ssh_pubkey\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench\",\"ssh_user\":\"bench\","
    "\"ssh_tunnel\":3522,\"listen_pubkey_tunnel\":3533}";

struct Options {
    int port = 8081;
    int threads = 128;
    int minThreads = 4;
};

// Answers every request with kBody. The request body is always consumed first: POCO 1.11 never
// drains it, and leftover bytes would be parsed as the next request on a keep-alive connection.
class FixedReplyHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        // Without Content-Length or chunking a request has no body (RFC 7230 §3.3.3); reading
        // POCO's stream then would wait for EOF, so only drain bodies that are delimited.
        if (request.getChunkedTransferEncoding() || request.hasContentLength()) {
            std::istream& in = request.stream();
            char buf[4096];
            while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
            }
        }
        response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        response.setContentType("application/json");
        response.sendBuffer(kBody, sizeof(kBody) - 1);
    }
};

class FixedReplyFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new FixedReplyHandler;
    }
};

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
    out << "usage: sb-bare-server [--port N (8081, 0 = any)] [--threads N (128)] "
           "[--min-threads N (4)]\n";
}

Options parseOptions(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            throw std::invalid_argument("unknown option or missing value: " + arg);
        }
        const char* value = argv[++i];
        if (arg == "--port") {
            o.port = parseInt(arg, value, 0, 65535);
        } else if (arg == "--threads") {
            o.threads = parseInt(arg, value, 1, 100000);
        } else if (arg == "--min-threads") {
            o.minThreads = parseInt(arg, value, 1, 100000);
        } else {
            throw std::invalid_argument("unknown option: " + arg);
        }
    }
    if (o.minThreads > o.threads) {
        throw std::invalid_argument("--min-threads must not exceed --threads");
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options opts;
    try {
        opts = parseOptions(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "sb-bare-server: " << e.what() << "\n";
        usage(std::cerr);
        return 2;
    }

    // Block the stop signals before any thread starts so that every thread inherits the mask
    // and only the sigwait below receives them (POCO-NOTES.md §7).
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    try {
        // Own pool: the default pool caps every server at 16 shared threads (POCO-NOTES.md §1).
        Poco::ThreadPool pool("bare", opts.minThreads, opts.threads, 60, 256 * 1024);

        Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
        params->setKeepAlive(true);
        params->setKeepAliveTimeout(Poco::Timespan(5, 0));
        params->setMaxKeepAliveRequests(0);
        params->setTimeout(Poco::Timespan(15, 0));
        params->setMaxQueued(1024);
        params->setMaxThreads(opts.threads);

        Poco::Net::ServerSocket socket;
        socket.bind(Poco::Net::SocketAddress("0.0.0.0", static_cast<Poco::UInt16>(opts.port)),
                    true);
        socket.listen(1024);
        Poco::UInt16 port = socket.address().port();

        Poco::Net::HTTPServer server(new FixedReplyFactory, pool, socket, params);
        server.start();
        std::cout << "listening on " << port << std::endl;

        int sig = 0;
        while (sigwait(&stopSignals, &sig) != 0) {
        }
        std::cerr << "sb-bare-server: " << strsignal(sig) << ", stopping\n";
        server.stopAll(true);
        pool.joinAll();
    } catch (const Poco::Exception& e) {
        std::cerr << "sb-bare-server: " << e.displayText() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "sb-bare-server: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
