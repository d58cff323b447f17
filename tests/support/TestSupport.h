// Helpers shared by the tests: temporary directories, free ports, a small HTTP client, and a
// handle on a real switchboard process started from a temporary YAML config.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test {

/// Collects the texts one Poco logger writes while this object lives, at `level` and above;
/// the logger's previous channel and level come back on destruction.
class LogCapture {
public:
    explicit LogCapture(const std::string& logger, int level = 6 /* PRIO_INFORMATION */);
    ~LogCapture();
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    /// "text" of each message so far, oldest first.
    std::vector<std::string> messages() const;

private:
    struct State;
    std::unique_ptr<State> _state;
};

/// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }
    /// path() + "/" + name
    std::string file(const std::string& name) const;
    /// Writes `content` to file(name) and returns that path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string _path;
};

/// The store backend the tests run on: "postgresql" when SB_TEST_PG_DIR names a test cluster's
/// directory (scripts/pg-cluster; ctest's pg.* tests run on the one its pg fixture starts),
/// else "sqlite".
std::string testBackend();
/// The store.url for a test whose data lives under `dir`: sqlite:<dir>/var/switchboard.db, or on
/// postgresql a fresh (emptied) schema named after `dir` in the test cluster's database.
std::string storeUrl(const TempDir& dir);
/// The same for a store of its own under `dir` named `name` (a test that opens several).
std::string storeUrl(const TempDir& dir, const std::string& name);
/// The test cluster's store.url without a schema (postgresql only; throws otherwise).
std::string postgresBaseUrl();

/// Reads a whole file ("" if it does not exist).
std::string readFile(const std::string& path);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int freePort();

struct HttpResult {
    int status = 0;  ///< 0: no response (connection failed)
    std::string body;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string header(const std::string& name) const;
};

/// One request on a fresh connection to 127.0.0.1:port.
HttpResult http(const std::string& method, int port, const std::string& path,
                const std::string& body = "",
                const std::map<std::string, std::string>& headers = {});

/// The same, over a TCP connection bound to `sourceHost` (another loopback address such as
/// 127.0.0.2), for per-address limits and trusted-proxy tests.
HttpResult httpFrom(const std::string& sourceHost, const std::string& method, int port,
                    const std::string& path, const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});

/// A subscriber of GET /admin/api/events (Server-Sent Events) on the admin port, authorised
/// with kAdminToken. Subscribed once the constructor returns.
class EventStream {
public:
    struct Event {
        std::string topic;
        std::string data;
    };
    EventStream(int adminPort, const std::string& topic);
    ~EventStream();
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;
    int status() const;
    std::string contentType() const;
    /// The next event of `topic` whose data contains `needle` (other events are skipped);
    /// nullopt if none arrives within 15 s.
    std::optional<Event> next(const std::string& topic, const std::string& needle = "");
    /// The next event of any topic whose data contains `needle`, so a test can see an event
    /// its subscription should have kept out; nullopt if none arrives within 15 s.
    std::optional<Event> nextAnyTopic(const std::string& needle);

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

/// Ports for a test server's listeners.
struct Ports {
    int pub = freePort();
    int pairing = freePort();
    int admin = freePort();
    int chat = freePort();
};

constexpr const char* kAdminToken = "test-admin-token";

/// A complete config: data under `dir`, listeners public/pairing/admin on `ports`, the build's
/// plugin and fixture directories, admin token kAdminToken, then `plugins` (YAML lines under
/// `plugins:`, already indented by two spaces) and `extra` top-level YAML appended.
std::string configYaml(const TempDir& dir, const Ports& ports, const std::string& plugins,
                       const std::string& extra = "");

/// `yaml` (from configYaml) with listener `name`'s line (on `port`) extended by `settings`,
/// YAML flow entries such as "max_body: 1KiB, request_timeout: 2s".
std::string withListener(std::string yaml, const std::string& name, int port,
                         const std::string& settings);

/// `yaml` (from configYaml) with `lines` (indented by two spaces) added to its server: section.
std::string withServerKeys(std::string yaml, const std::string& lines);

/// Runs SQL on a server's database from outside (WAL: alongside the running server), e.g. to
/// rename a plugin's table away so that its writes fail. `database` is the SQLite file under a
/// test's dir (<dir>/var/switchboard.db); on postgresql the SQL runs in that dir's schema.
void executeOnDatabase(const std::string& database, const std::string& sql);

/// Lua defining hold_here(): logs "hook holding here" and loops until releaseLuaHold() — a
/// hook that calls it keeps its request inside the plugin for as long as a test needs, e.g. to
/// watch the plugin restart. Needs forHolding()'s config.
constexpr const char* kLuaHold =
    "function hold_here()\n"
    "  log.info('hook holding here')\n"
    "  while store.get('release') == nil do end\n"
    "end\n";
/// Ends every hold_here() of the server whose SQLite file is `database`.
void releaseLuaHold(const std::string& database);
/// `yaml` (from configYaml) with the Lua instruction budget at its maximum and
/// server.shutdown_timeout at 20 s, so a held hook neither runs out nor is given up on.
std::string forHolding(std::string yaml);

/// The result of running the binary to completion.
struct RunResult {
    int exitCode = -1;
    std::string output;  ///< stdout and stderr together
};
RunResult runSwitchboard(const std::vector<std::string>& args, const std::string& cwd,
                         std::chrono::seconds timeout = std::chrono::seconds(30));
/// Runs any program (argv[0] is its path) to completion.
RunResult runCommand(const std::vector<std::string>& argv, const std::string& cwd,
                     std::chrono::seconds timeout = std::chrono::seconds(60));
/// A line "Name:  value" of /proc/<pid>/status, as a number (e.g. "VmRSS" in kB, "Threads").
long procStatus(int pid, const std::string& name);

/// The real switchboard binary started on <dir>/switchboard.yaml with cwd = dir; output goes to
/// <dir>/switchboard.log. The destructor stops it (SIGTERM, then SIGKILL).
class ServerProcess {
public:
    ServerProcess(const TempDir& dir, const std::string& yaml,
                  const std::vector<std::string>& extraArgs = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    /// Waits until GET /readyz on `port` answers 200. False if the process exited or the
    /// deadline passed.
    bool waitReady(int port, std::chrono::seconds timeout = std::chrono::seconds(30));
    void signal(int sig);
    /// Waits for exit; returns the exit code (128+signal if killed), or -1 on timeout.
    int wait(std::chrono::seconds timeout = std::chrono::seconds(30));
    bool running();
    int pid() const { return _pid; }
    std::string log() const;
    /// Polls log() until it contains `text`.
    bool waitForLog(const std::string& text,
                    std::chrono::seconds timeout = std::chrono::seconds(10));

private:
    std::string _logFile;
    int _pid = -1;
    int _exitCode = -1;
    bool _exited = false;
};

/// A throwaway redis-server (Debian's, scripts/setup) on 127.0.0.1:port() with no persistence,
/// its files under a TempDir of its own. Killed on destruction.
class RedisServer {
public:
    /// Starts it and waits until it answers PING. Throws std::runtime_error if it does not.
    explicit RedisServer(int port = freePort());
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;
    int port() const { return _port; }
    /// redis://127.0.0.1:port
    std::string url() const;
    /// SIGKILL, as if the host went away.
    void kill();
    /// Starts it again on the same port (after kill()).
    void start();

private:
    TempDir _dir;
    int _port;
    int _pid = -1;
};

/// Polls `condition` every 20 ms until it is true or `timeout` passes.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

}  // namespace switchboard::test
