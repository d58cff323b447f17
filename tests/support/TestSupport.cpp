// Test helpers (see TestSupport.h).
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/TemporaryFile.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace switchboard::test {

namespace {

class CollectingChannel : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard<std::mutex> lock(_mutex);
        _messages.push_back(message.getText());
    }
    std::vector<std::string> messages() {
        std::lock_guard<std::mutex> lock(_mutex);
        return _messages;
    }

private:
    std::mutex _mutex;
    std::vector<std::string> _messages;
};

}  // namespace

struct LogCapture::State {
    Poco::Logger& logger;
    Poco::AutoPtr<Poco::Channel> previous;
    int previousLevel;
    Poco::AutoPtr<CollectingChannel> channel;
};

LogCapture::LogCapture(const std::string& logger, int level) {
    Poco::Logger& l = Poco::Logger::get(logger);
    _state.reset(new State{l, Poco::AutoPtr<Poco::Channel>(l.getChannel(), true), l.getLevel(),
                           Poco::AutoPtr<CollectingChannel>(new CollectingChannel)});
    l.setChannel(_state->channel);
    l.setLevel(level);
}

LogCapture::~LogCapture() {
    _state->logger.setChannel(_state->previous);
    _state->logger.setLevel(_state->previousLevel);
}

std::vector<std::string> LogCapture::messages() const {
    return _state->channel->messages();
}

TempDir::TempDir() {
    _path = Poco::TemporaryFile::tempName("/tmp");
    Poco::File(_path).createDirectories();
}

TempDir::~TempDir() {
    try {
        Poco::File(_path).remove(true);
    } catch (...) {
    }
}

std::string TempDir::file(const std::string& name) const {
    return _path + "/" + name;
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    std::string p = file(name);
    Poco::File(Poco::Path(p).parent()).createDirectories();
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    return p;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

int freePort() {
    // Ports come from 20000-29999, below the kernel's ephemeral range (so no client socket
    // takes one between here and the server's bind), handed out in turn under a file lock
    // shared by all test processes (so two tests running in parallel never get the same one).
    constexpr int kFirst = 20000;
    constexpr int kCount = 10000;
    int fd = ::open("/tmp/switchboard-test-ports", O_RDWR | O_CREAT, 0666);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
        throw std::runtime_error("freePort: cannot lock /tmp/switchboard-test-ports");
    }
    char text[16] = {0};
    ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    long next = n > 0 ? std::strtol(text, nullptr, 10) : 0;
    int port = 0;
    for (int attempt = 0; attempt < kCount && port == 0; ++attempt) {
        int candidate = kFirst + static_cast<int>(next++ % kCount);
        try {
            Poco::Net::ServerSocket probe;
            probe.bind(Poco::Net::SocketAddress("0.0.0.0", static_cast<Poco::UInt16>(candidate)),
                       false);
            port = candidate;
        } catch (const Poco::Exception&) {
            // in use: try the next one
        }
    }
    std::string value = std::to_string(next % kCount);
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, value.data(), value.size(), 0) < 0) {
        port = 0;
    }
    ::flock(fd, LOCK_UN);
    ::close(fd);
    if (port == 0) {
        throw std::runtime_error("freePort: no free port in 20000-29999");
    }
    return port;
}

std::string HttpResult::header(const std::string& name) const {
    auto it = headers.find(Poco::toLower(name));
    return it == headers.end() ? "" : it->second;
}

HttpResult http(const std::string& method, int port, const std::string& path,
                const std::string& body, const std::map<std::string, std::string>& headers) {
    return httpFrom("", method, port, path, body, headers);
}

HttpResult httpFrom(const std::string& sourceHost, const std::string& method, int port,
                    const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers) {
    HttpResult result;
    try {
        Poco::Net::StreamSocket socket;
        if (!sourceHost.empty()) {
            socket.impl()->bind(Poco::Net::SocketAddress(sourceHost, 0));
        }
        socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
        Poco::Net::HTTPClientSession session(socket);
        session.setTimeout(Poco::Timespan(15, 0));
        Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setHost("127.0.0.1", static_cast<Poco::UInt16>(port));
        for (const auto& [name, value] : headers) {
            request.set(name, value);
        }
        if (!body.empty() || method == "POST" || method == "PUT") {
            request.setContentLength(static_cast<std::streamsize>(body.size()));
            if (!request.has("Content-Type")) {
                request.setContentType("application/json");
            }
        }
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(in, result.body);
        result.status = response.getStatus();
        for (const auto& [name, value] : response) {
            result.headers[Poco::toLower(name)] = value;
        }
    } catch (const Poco::Exception&) {
        result.status = 0;
    }
    return result;
}

struct EventStream::Impl {
    explicit Impl(int port) : session("127.0.0.1", static_cast<Poco::UInt16>(port)) {}
    Poco::Net::HTTPClientSession session;
    Poco::Net::HTTPResponse response;
    std::istream* in = nullptr;

    /// The next event `wanted` accepts (others are skipped); nullopt after 15 s.
    template <class Wanted>
    std::optional<Event> read(Wanted wanted) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        Event event;
        std::string line;
        auto readLine = [&] {
            try {
                return static_cast<bool>(std::getline(*in, line));
            } catch (const Poco::Exception&) {
                return false;  // read timeout: no event came
            }
        };
        while (std::chrono::steady_clock::now() < deadline && readLine()) {
            if (line.compare(0, 7, "event: ") == 0) {
                event.topic = line.substr(7);
            } else if (line.compare(0, 6, "data: ") == 0) {
                event.data = line.substr(6);
            } else if (line.empty()) {
                if (!event.topic.empty() && wanted(event)) {
                    return event;
                }
                event = Event{};
            }
        }
        return std::nullopt;
    }
};

EventStream::EventStream(int adminPort, const std::string& topic)
    : _impl(std::make_unique<Impl>(adminPort)) {
    _impl->session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request("GET", "/admin/api/events?topic=" + topic,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", std::string("Bearer ") + kAdminToken);
    _impl->session.sendRequest(request);
    // The server subscribes before it sends the headers: from here on nothing is missed.
    _impl->in = &_impl->session.receiveResponse(_impl->response);
}

EventStream::~EventStream() = default;

int EventStream::status() const {
    return _impl->response.getStatus();
}

std::string EventStream::contentType() const {
    return _impl->response.getContentType();
}

std::optional<EventStream::Event> EventStream::next(const std::string& topic,
                                                    const std::string& needle) {
    return _impl->read([&](const Event& e) {
        return e.topic == topic && e.data.find(needle) != std::string::npos;
    });
}

std::optional<EventStream::Event> EventStream::nextAnyTopic(const std::string& needle) {
    return _impl->read([&](const Event& e) { return e.data.find(needle) != std::string::npos; });
}

std::string configYaml(const TempDir& dir, const Ports& ports, const std::string& plugins,
                       const std::string& extra) {
    std::ostringstream y;
    y << "server:\n"
      << "  data_dir: " << dir.path() << "/var\n"
      << "  plugin_dirs: [" << SB_PLUGIN_DIR << ", " << SB_FIXTURE_DIR << "]\n"
      << "  shutdown_timeout: 2s\n"
      << "  log: { level: information }\n"
      << "store: { url: \"" << storeUrl(dir) << "\", flush_interval: 200ms }\n"
      << "listeners:\n"
      << "  public: { bind: 127.0.0.1, port: " << ports.pub << " }\n"
      << "  pairing: { bind: 127.0.0.1, port: " << ports.pairing << " }\n"
      << "  admin: { bind: 127.0.0.1, port: " << ports.admin << " }\n"
      << "admin: { token: " << kAdminToken << " }\n"
      << extra << (extra.empty() || extra.back() == '\n' ? "" : "\n") << "plugins:\n"
      << plugins;
    return y.str();
}

namespace {

std::string pgConnection(const std::string& database) {
    const char* dir = std::getenv("SB_TEST_PG_DIR");
    if (dir == nullptr || *dir == 0) {
        throw std::logic_error("the tests run on sqlite (SB_TEST_PG_DIR is not set)");
    }
    std::string port = readFile(std::string(dir) + "/port");
    while (!port.empty() && std::isspace(static_cast<unsigned char>(port.back()))) {
        port.pop_back();
    }
    if (port.empty()) {
        throw std::runtime_error(std::string("no PostgreSQL test cluster at ") + dir +
                                 " (scripts/pg-cluster start)");
    }
    return "host=127.0.0.1 port=" + port + " dbname=" + database + " user=switchboard";
}

std::string pgPort() {
    std::string c = pgConnection("x");
    auto at = c.find("port=") + 5;
    return c.substr(at, c.find(' ', at) - at);
}

/// t_<dir's name>[_<name>], lower-case letters, digits and _.
std::string schemaFor(const std::string& dirPath, const std::string& name) {
    std::string base = Poco::Path(dirPath).getFileName() + (name.empty() ? "" : "_" + name);
    std::string schema = "t_";
    for (char c : base) {
        schema += std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                      : '_';
    }
    return schema.substr(0, 63);
}

void runOnPostgres(const std::string& schema, const std::string& sql) {
    static std::once_flag registered;
    std::call_once(registered, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
    Poco::Data::Session session("PostgreSQL", pgConnection("switchboard"));
    session << "SET client_min_messages TO warning", Poco::Data::Keywords::now;
    if (!schema.empty()) {
        session << "SET search_path TO " + schema, Poco::Data::Keywords::now;
    }
    session << sql, Poco::Data::Keywords::now;
}

}  // namespace

std::string testBackend() {
    const char* v = std::getenv("SB_TEST_PG_DIR");
    return v != nullptr && *v != 0 ? "postgresql" : "sqlite";
}

std::string postgresBaseUrl() {
    if (testBackend() != "postgresql") {
        throw std::logic_error("postgresBaseUrl: the tests run on sqlite");
    }
    return "postgresql://switchboard@127.0.0.1:" + pgPort() + "/switchboard";
}

std::string storeUrl(const TempDir& dir) {
    return storeUrl(dir, "");
}

std::string storeUrl(const TempDir& dir, const std::string& name) {
    if (testBackend() != "postgresql") {
        return "sqlite:" + dir.path() + "/var/" + (name.empty() ? "switchboard" : name) + ".db";
    }
    std::string schema = schemaFor(dir.path(), name);
    runOnPostgres("", "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    runOnPostgres("", "CREATE SCHEMA " + schema);
    return postgresBaseUrl() + "?schema=" + schema;
}

void executeOnDatabase(const std::string& database, const std::string& sql) {
    if (testBackend() == "postgresql") {
        // <dir>/var/switchboard.db -> <dir>'s schema
        Poco::Path path(database);
        std::string dir = path.parent().parent().toString();
        if (!dir.empty() && dir.back() == '/') {
            dir.pop_back();
        }
        runOnPostgres(schemaFor(dir, ""), sql);
        return;
    }
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session session("SQLite", database);
    session.setProperty("connectionTimeout", std::size_t{5});
    session << sql, Poco::Data::Keywords::now;
}

void releaseLuaHold(const std::string& database) {
    executeOnDatabase(database, "INSERT INTO lua_kv (key, value) VALUES ('release', 'true')");
}

std::string forHolding(std::string yaml) {
    const std::string from = "shutdown_timeout: 2s";
    yaml.replace(yaml.find(from), from.size(), "shutdown_timeout: 20s");
    std::size_t lua = yaml.find("lua: { ");
    if (lua == std::string::npos) {
        throw std::logic_error("forHolding: the config has no lua: { ... } line");
    }
    yaml.insert(lua + 7, "instruction_budget: 1000000000, ");
    return yaml;
}

std::string withListener(std::string yaml, const std::string& name, int port,
                         const std::string& settings) {
    std::string marker = "  " + name + ": { bind: 127.0.0.1, port: " + std::to_string(port) + " }";
    yaml.replace(yaml.find(marker), marker.size(),
                 "  " + name + ": { bind: 127.0.0.1, port: " + std::to_string(port) + ", " +
                     settings + " }");
    return yaml;
}

std::string withServerKeys(std::string yaml, const std::string& lines) {
    std::size_t at = yaml.find("server:\n");
    if (at != std::string::npos) {
        yaml.insert(at + 8, lines);
    }
    return yaml;
}

namespace {

int spawn(const std::vector<std::string>& args, const std::string& cwd, const std::string& out) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(cwd.c_str()) != 0) {
            _exit(126);
        }
        std::vector<char*> argv;
        for (const auto& a : args) {
            argv.push_back(const_cast<char*>(a.c_str()));
        }
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

/// Waits for `pid` until the deadline; returns the exit code or -1.
int reap(int pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

RunResult runSwitchboard(const std::vector<std::string>& args, const std::string& cwd,
                         std::chrono::seconds timeout) {
    std::vector<std::string> argv{SB_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, cwd, timeout);
}

long procStatus(int pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, name.size() + 1, name + ":") == 0) {
            return std::stol(line.substr(name.size() + 1));
        }
    }
    return -1;
}

RunResult runCommand(const std::vector<std::string>& argv, const std::string& cwd,
                     std::chrono::seconds timeout) {
    std::string out = Poco::TemporaryFile::tempName("/tmp");
    int pid = spawn(argv, cwd, out);
    RunResult result;
    result.exitCode = reap(pid, timeout);
    if (result.exitCode == -1) {
        kill(pid, SIGKILL);
        reap(pid, std::chrono::seconds(5));
    }
    result.output = readFile(out);
    ::unlink(out.c_str());
    return result;
}

ServerProcess::ServerProcess(const TempDir& dir, const std::string& yaml,
                             const std::vector<std::string>& extraArgs) {
    std::string config = dir.write("switchboard.yaml", yaml);
    _logFile = dir.file("switchboard.log");
    std::vector<std::string> argv{SB_BINARY, "--config=" + config};
    argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
    _pid = spawn(argv, dir.path(), _logFile);
}

ServerProcess::~ServerProcess() {
    if (running()) {
        signal(SIGTERM);
        if (wait(std::chrono::seconds(15)) == -1) {
            signal(SIGKILL);
            wait(std::chrono::seconds(5));
        }
    }
    // Under the sanitizer build a server's memory error or undefined behaviour fails the test
    // that ran it, even when every answer it gave looked right.
    std::string text = log();
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                               "runtime error:", "WARNING: ThreadSanitizer"}) {
        std::size_t at = text.find(marker);
        if (at != std::string::npos) {
            ADD_FAILURE() << "the server reported a sanitizer error:\n"
                          << text.substr(at >= 2000 ? at - 2000 : 0, 8000);
            break;
        }
    }
}

bool ServerProcess::running() {
    if (_exited) {
        return false;
    }
    int code = reap(_pid, std::chrono::milliseconds(0));
    if (code != -1) {
        _exited = true;
        _exitCode = code;
    }
    return !_exited;
}

void ServerProcess::signal(int sig) {
    if (!_exited) {
        ::kill(_pid, sig);
    }
}

int ServerProcess::wait(std::chrono::seconds timeout) {
    if (!_exited) {
        int code = reap(_pid, timeout);
        if (code == -1) {
            return -1;
        }
        _exited = true;
        _exitCode = code;
    }
    return _exitCode;
}

bool ServerProcess::waitReady(int port, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) {
            return false;
        }
        if (http("GET", port, "/readyz").status == 200) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

std::string ServerProcess::log() const {
    return readFile(_logFile);
}

bool ServerProcess::waitForLog(const std::string& text, std::chrono::seconds timeout) {
    return eventually([&] { return log().find(text) != std::string::npos; }, timeout);
}

}  // namespace switchboard::test

namespace switchboard::test {

RedisServer::RedisServer(int port) : _port(port) {
    start();
}

RedisServer::~RedisServer() {
    kill();
}

std::string RedisServer::url() const {
    return "redis://127.0.0.1:" + std::to_string(_port);
}

void RedisServer::kill() {
    if (_pid > 0) {
        ::kill(_pid, SIGKILL);
        reap(_pid, std::chrono::seconds(5));
        _pid = -1;
    }
}

void RedisServer::start() {
    kill();
    _pid = spawn({"/usr/bin/redis-server", "--port", std::to_string(_port), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", _dir.path(), "--daemonize", "no",
                  "--loglevel", "warning"},
                 _dir.path(), _dir.file("redis.log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", _port));
            const char ping[] = "PING\r\n";
            s.sendBytes(ping, sizeof ping - 1);
            char buf[16] = {};
            s.setReceiveTimeout(Poco::Timespan(1, 0));
            if (s.receiveBytes(buf, sizeof buf - 1) > 0 &&
                std::string(buf).rfind("+PONG", 0) == 0) {
                return;
            }
        } catch (const Poco::Exception&) {
        }
        if (reap(_pid, std::chrono::milliseconds(0)) != -1) {
            _pid = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(_port) + ": " +
                             readFile(_dir.file("redis.log")));
}

}  // namespace switchboard::test
