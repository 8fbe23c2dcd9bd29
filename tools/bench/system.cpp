// What the bench asks of the operating system: that the target is on loopback (the bench is a
// load generator: it must not be pointed at someone else's server), as many file descriptors
// as allowed, and the broker's resident memory.
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "tools/bench/bench.h"

namespace herald::tools::bench {

bool resolve_loopback(BenchConfig& config, std::string& error) {
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    int rc = getaddrinfo(config.host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr) {
        error = "unknown host '" + config.host + "'";
        return false;
    }
    // Every address the name resolves to must be loopback: a name that also resolves elsewhere
    // could send the load there.
    std::string first;
    bool v6 = false;
    for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = "";
        bool loopback = false;
        if (ai->ai_family == AF_INET) {
            auto* sin = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
            loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
            inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        } else if (ai->ai_family == AF_INET6) {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
            loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
            inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        } else {
            continue;
        }
        if (!loopback) {
            freeaddrinfo(res);
            error = "refusing to load '" + config.host + "' (" + text +
                    "): herald bench targets loopback only (127.0.0.0/8 or ::1)";
            return false;
        }
        // Prefer IPv4: the source-address spreading of conns/churn is IPv4 only.
        if (first.empty() || (v6 && ai->ai_family == AF_INET)) {
            first = text;
            v6 = ai->ai_family == AF_INET6;
        }
    }
    freeaddrinfo(res);
    if (first.empty()) {
        error = "unknown host '" + config.host + "'";
        return false;
    }
    config.address = first;
    config.ipv6 = v6;
    return true;
}

long raise_fd_limit(long* hard_limit) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long limit = rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : long(rl.rlim_cur);
    if (hard_limit) *hard_limit = limit;
    long open = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (readdir(d) != nullptr) ++open;
        closedir(d);
    }
    // Keep a margin for libuv's own descriptors (epoll, signal pipe, ...) and the watcher.
    return limit - open - 32;
}

long read_rss_kb(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

}  // namespace herald::tools::bench
