// What a `herald bench` run is asked to do (BenchConfig) and what it found (BenchResult), plus
// the entry points of the scenarios. The scenarios share one libuv loop on one thread: the load
// generator must stay cheaper than the broker it measures, so everything here is batched and
// allocation-free per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/mqtt/packets.h"
#include "tools/bench/histogram.h"

namespace herald::tools::bench {

// Time units of uv_hrtime(), shared by the scenarios (defined once: the unity build of
// scripts/test.sh compiles several scenario files as one unit).
inline constexpr uint64_t kNsPerMs = 1000000;
inline constexpr uint64_t kNsPerS = 1000000000;
// Publishers of the closed-loop scenarios: at most this many messages in one loop turn, and
// send times kept in a ring larger than any inflight window (Receive Maximum <= 65535).
inline constexpr size_t kMaxBatch = 4096;
inline constexpr size_t kRing = 65536;

struct BenchConfig {
    std::string scenario;           // conns | fanin | fanout | chat | churn | offline | streams
    std::string host = "127.0.0.1";
    std::string address;            // `host` resolved and checked to be loopback (numeric)
    bool ipv6 = false;
    uint16_t port = 1883;
    std::string ws_path;            // non-empty (--ws): every client speaks MQTT over WebSocket there
    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V5;
    uint8_t qos = 0;
    size_t size = 64;               // payload bytes (at least the 16-byte header)
    double rate = 0;                // total messages (or connects, for churn) per second; 0 = closed loop
    double duration = 10;           // seconds of measurement; bounded whatever else is asked
    uint64_t count = 0;             // total messages to publish (conns/churn: connections); 0 = no count
    bool duration_given = false;
    double warmup = 0;              // seconds of load before measuring
    int publishers = 0;             // 0: the scenario's default
    int subscribers = 0;
    int users = 0;
    int connections = 0;            // conns: idle connections; churn: connections at once
    bool presence = false;          // churn: users with presence (offline records), not wills
    double grace = -1;              // churn: the broker's presence grace in seconds; < 0: not given
    size_t window = 1000;           // messages in flight per subscriber (closed loop)
    size_t inflight = 20;           // QoS 1/2 unacknowledged per publisher under 3.1.1 (5.0: the
                                    // server's Receive Maximum), as paho and mosquitto clients do
    std::string topic;              // fanin / fanout topic (default herald-bench/<run>/<scenario>);
                                    // offline: the prefix of the inboxes <topic>/<i>
    std::string sys_filter;         // --sys: retained broker statistics to read at the end
    int per_inbox = 1;              // offline: subscribers (sessions) sharing each inbox topic
    int broker_pid = 0;             // --pid: read the broker's VmRSS
    std::string data_dir;           // streams: the broker's data_dir, to size herald.db (+ -wal)
    bool resubscribe = false;       // streams: devices come back with a clean session and SUBSCRIBE
    bool json = false;
    bool progress = true;
    std::string run_id;             // client id / topic prefix of this run
};

// Per-publisher counters of the receiving side, summed over a run.
struct FlowCounters {
    uint64_t sent = 0;         // messages published, warmup included
    uint64_t expected = 0;     // deliveries that should arrive (sent x subscribers)
    uint64_t received = 0;     // unique deliveries
    uint64_t duplicates = 0;
    uint64_t reordered = 0;    // arrived after a later message of the same stream
};

struct BenchResult {
    std::string scenario;
    std::string error;         // non-empty: the run failed (printed, exit status 1)
    std::vector<std::string> notes;  // said on stderr and in the JSON (e.g. the fd limit)
    // Message scenarios: the measured phase only (after warmup).
    double seconds = 0;          // publishing, from the end of warmup to the last publish
    double delivery_seconds = 0; // from the end of warmup to the last measured delivery
    uint64_t published = 0;
    uint64_t delivered = 0;
    FlowCounters flow;         // whole run, for losses / duplicates / order
    Histogram latency;         // nanoseconds, measured phase (churn: from each drop to its event)
    // conns / churn.
    uint64_t connections = 0;  // conns: established; churn: connect+drop cycles
    double connect_seconds = 0;
    long rss_before_kb = -1, rss_after_kb = -1;
    // churn: the events (wills, or presence offline records) expected / seen once / seen again;
    // `latency` is from each drop to its event, `after_grace` the same minus the grace (clamped
    // at 0: `early` counts those below it; the exact minimum is latency.min() - grace).
    uint64_t wills_expected = 0, wills_seen = 0, wills_duplicate = 0;
    uint64_t online_seen = 0, early = 0;
    Histogram after_grace;
    // offline: `published` publishes got `acked` PUBACKs in `seconds` (latency: the PUBACK's);
    // then `sessions_kept` of `subscribers` resumed with session present and `delivered` the
    // queued messages in `drain_seconds`.
    uint64_t acked = 0;
    uint64_t sessions_kept = 0;
    double drain_seconds = 0;
    // streams: per device, the seconds from its reconnect (and from its SUBSCRIBE, with
    // --resubscribe) to its last waiting message; the broker's memory once the queue is drained;
    // the store's size (herald.db, herald.db-wal) before and after the messages were queued.
    std::vector<double> replay_s, replay_from_sub_s;
    long rss_drained_kb = -1;
    long long db_before = -1, wal_before = -1, db_after = -1, wal_after = -1;
    // --sys: the last value of each retained topic under the filter, in arrival order.
    std::vector<std::pair<std::string, std::string>> sys;
    // Parameters echoed in the report.
    int publishers = 0, subscribers = 0, users = 0;
};

// Fills config.address (and ipv6) from config.host; refuses anything not on loopback.
bool resolve_loopback(BenchConfig& config, std::string& error);
// Raises RLIMIT_NOFILE to the hard limit; returns how many more descriptors this process may open.
long raise_fd_limit(long* hard_limit);
// The broker's resident memory in kB from /proc/PID/status, -1 when unreadable.
long read_rss_kb(int pid);

BenchResult run_flow(const BenchConfig& config);   // fanin, fanout, chat
BenchResult run_conns(const BenchConfig& config);  // conns
BenchResult run_churn(const BenchConfig& config);  // churn
BenchResult run_offline(const BenchConfig& config);  // offline
BenchResult run_streams(const BenchConfig& config);  // streams (tools/bench/streams.cpp)

// The report: text for people, one JSON object for scripts.
void print_text(const BenchConfig& config, const BenchResult& result);
void print_json(const BenchConfig& config, const BenchResult& result);
// The streams scenario's part of the report (tools/bench/streams_report.cpp).
void streams_json(const BenchConfig& config, const BenchResult& result, nlohmann::ordered_json& j);
void streams_text(const BenchConfig& config, const BenchResult& result);

}  // namespace herald::tools::bench
