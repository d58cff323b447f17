// Shared helpers of sb-sigload's scenarios (see Common.h).
#include "Common.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sigload {

namespace {
const std::size_t kMaxShown = 5;
}

ErrorLog gErrors;
std::atomic<bool> gEndHold{false};

void ErrorLog::add(const std::string& what) {
    ++_total;
    std::lock_guard<std::mutex> lock(_mutex);
    if (_seen.size() < kMaxShown && _seen.insert(what).second) {
        std::cerr << "sb-sigload: error: " << what << std::endl;
    }
}

void ErrorLog::summary() const {
    if (_total > 0) {
        std::cerr << "sb-sigload: " << _total << " error(s) in total" << std::endl;
    }
}

void note(const std::string& what) {
    static std::mutex mutex;
    static std::set<std::string> seen;
    std::lock_guard<std::mutex> lock(mutex);
    if (seen.size() < kMaxShown && seen.insert(what).second) {
        std::cerr << "# note: " << what << std::endl;
    }
}

double ms(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

std::int64_t nanos(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void atomicMax(std::atomic<std::int64_t>& target, std::int64_t value) {
    std::int64_t seen = target.load();
    while (value > seen && !target.compare_exchange_weak(seen, value)) {
    }
}

void atomicMin(std::atomic<std::int64_t>& target, std::int64_t value) {
    std::int64_t seen = target.load();
    while (value < seen && !target.compare_exchange_weak(seen, value)) {
    }
}

std::string latencyJson(const std::string& prefix, std::vector<double>& v) {
    auto fmt = [](double x) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.3f", x);
        return std::string(buf);
    };
    if (v.empty()) {
        return "\"" + prefix + "_samples\":0";
    }
    std::sort(v.begin(), v.end());
    // Nearest rank: the smallest sample with at least p of all samples at or below it.
    auto at = [&](double p) {
        std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
        return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
    };
    double sum = 0;
    for (double x : v) {
        sum += x;
    }
    return "\"" + prefix + "_samples\":" + std::to_string(v.size()) + ",\"" + prefix +
           "_p50_ms\":" + fmt(at(0.5)) + ",\"" + prefix + "_p90_ms\":" + fmt(at(0.9)) + ",\"" +
           prefix + "_p99_ms\":" + fmt(at(0.99)) + ",\"" + prefix + "_max_ms\":" + fmt(v.back()) +
           ",\"" + prefix + "_mean_ms\":" + fmt(sum / static_cast<double>(v.size()));
}

long readRssKb(int pid) {
    if (pid == 0) {
        return 0;
    }
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

double readCpuSeconds(int pid) {
    if (pid == 0) {
        return 0;
    }
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    std::size_t close = stat.rfind(')');
    if (close == std::string::npos) {
        return -1;
    }
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i >= 14) {
            ticks += std::strtod(field.c_str(), nullptr);
        }
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string rssJson(long kb) {
    return kb < 0 ? "null" : std::to_string(kb);
}

bool waitUntil(const std::function<bool()>& done, Clock::time_point deadline,
               const std::string& what, const std::function<std::string()>& progress) {
    Clock::time_point nextReport = Clock::now() + std::chrono::seconds(5);
    while (!done()) {
        Clock::time_point now = Clock::now();
        if (now >= deadline) {
            return false;
        }
        if (progress && now >= nextReport) {
            std::cerr << "# " << what << ": " << progress() << std::endl;
            nextReport = now + std::chrono::seconds(5);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

Target makeTarget(const Options& o) {
    Target t;
    t.server.sin_family = AF_INET;
    t.server.sin_port = htons(static_cast<std::uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &t.server.sin_addr) != 1) {
        throw std::invalid_argument("--host must be an IPv4 address, got '" + o.host + "'");
    }
    t.hostHeader = o.host + ":" + std::to_string(o.port);
    if (o.newPort != 0) {
        t.other = t.server;
        t.other.sin_port = htons(static_cast<std::uint16_t>(o.newPort));
        t.otherFrom = o.peers;  // fanout: the new agent's slot comes after the K peers
    }
    if (!o.bindFirst.empty()) {
        in_addr first{};
        if (inet_pton(AF_INET, o.bindFirst.c_str(), &first) != 1) {
            throw std::invalid_argument("--bind must be an IPv4 address, got '" + o.bindFirst +
                                        "'");
        }
        for (int i = 0; i < std::max(o.bindCount, 1); ++i) {
            in_addr a{};
            a.s_addr = htonl(ntohl(first.s_addr) + static_cast<std::uint32_t>(i));
            t.sources.push_back(a);
        }
    }
    return t;
}

void raiseFileLimit(long need) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        std::cerr << "sb-sigload: could not raise RLIMIT_NOFILE: " << std::strerror(errno) << "\n";
    }
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < static_cast<rlim_t>(need) + 64) {
        std::cerr << "sb-sigload: warning: open-files limit " << lim.rlim_cur << " is below the "
                  << need << " connections asked for (raise the hard limit: ulimit -Hn)\n";
    }
}

void printResult(const std::string& name, const std::string& members) {
    std::cout << "{\"bench\":\"" << name << "\"," << members << "}" << std::endl;
}

}  // namespace sigload
