// What every sb-sigload scenario shares: the options, the error log, statistics, the server's RSS
// and waiting with a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "EventClient.h"

namespace sigload {

struct Options {
    std::string scenario;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path;  // default per scenario: /ws, or /testkit/ws for echo
    int threads = 2;
    std::string bindFirst;  // first source address (127.0.0.2); empty: the kernel's choice
    int bindCount = 0;
    int serverPid = 0;
    int timeoutSeconds = 120;  // for each phase that waits on the server
    int settleSeconds = 30;    // for presence to reach every agent
    int window = 512;          // connections opening (not yet registered) at once
    std::string agentsFile;
    int count = 0;  // hold: agents (0: every line of the file)
    int holdSeconds = 10;
    int peers = 1000;
    int rounds = 20;
    int warmup = 2;
    int pairs = 100;
    int durationSeconds = 10;
    int connections = 0;
    int busy = 100;
    int payload = 64;
    bool tokenHeader = false;  // Authorization: Bearer instead of ?token=
    std::string name;          // "bench" field of the result line
    std::string ignorePrefix;  // fanout: peers whose id starts with it are not counted
    int newPort = 0;           // fanout: the new agent connects here (another node); 0: --port
};

/// Collects errors from all threads: each of the first few distinct messages is printed once,
/// all are counted.
class ErrorLog {
public:
    void add(const std::string& what);
    long total() const { return _total.load(); }
    void summary() const;

private:
    std::mutex _mutex;
    std::set<std::string> _seen;
    std::atomic<long> _total{0};
};

extern ErrorLog gErrors;

/// Set by SIGUSR1: ends a hold early (the driver runs other scenarios during a hold).
extern std::atomic<bool> gEndHold;

/// Notes something odd that is not an error (first few distinct ones printed, all counted).
void note(const std::string& what);

/// Milliseconds between two instants.
double ms(Clock::time_point from, Clock::time_point to);
/// Nanoseconds since the clock's epoch, for atomics.
std::int64_t nanos(Clock::time_point t);
/// Keeps the larger (atomicMin: smaller) of target and value.
void atomicMax(std::atomic<std::int64_t>& target, std::int64_t value);
void atomicMin(std::atomic<std::int64_t>& target, std::int64_t value);

/// p50/p90/p99/max/mean of samples (ms) as JSON members "<prefix>_p50_ms",... (sorts samples).
std::string latencyJson(const std::string& prefix, std::vector<double>& samples);

/// VmRSS of pid in kB (-1 if unknown; 0 when pid is 0).
long readRssKb(int pid);
/// CPU time (user + system) pid has used, in seconds (-1 if unknown; 0 when pid is 0).
double readCpuSeconds(int pid);
/// JSON value of an RSS reading (null when unknown).
std::string rssJson(long kb);

/// Polls done() every millisecond until it is true (true) or deadline passes (false); every 5 s
/// prints "# <what>: <progress()>" to stderr when progress is given.
bool waitUntil(const std::function<bool()>& done, Clock::time_point deadline,
               const std::string& what = "", const std::function<std::string()>& progress = {});

/// Where to connect, from the options (server address and source addresses).
Target makeTarget(const Options& o);

/// Raises RLIMIT_NOFILE to its hard limit and warns when it stays below need.
void raiseFileLimit(long need);

/// One result line on stdout: {"bench":<name>, <members>}.
void printResult(const std::string& name, const std::string& members);

int runEcho(const Options& o);
int runHold(const Options& o);
int runFanout(const Options& o);
int runRelay(const Options& o);

}  // namespace sigload
