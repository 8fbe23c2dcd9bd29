// `herald bench SCENARIO`: load a broker on loopback and report what it did — connect rates,
// memory per connection, deliveries per second, latency percentiles, losses. The scenarios
// live in tools/bench/; this file is the command line.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <random>

#include "tools/bench/bench.h"
#include "tools/bench/payload.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

namespace herald::tools {

namespace {

struct BenchFlags {
    bench::BenchConfig config;
    int port = 1883;
    int qos = 0;
    std::string version = "5";
    int window = 1000;
    bool quiet = false;
    bool ws = false;
    std::string ws_path = "/mqtt";
};

int run_bench(BenchFlags& f, const CLI::App& cmd) {
    bench::BenchConfig& c = f.config;
    c.port = uint16_t(f.port);
    c.qos = uint8_t(f.qos);
    c.window = size_t(f.window);
    c.duration_given = cmd.count("--duration") > 0;
    c.progress = !f.quiet;
    if (f.ws) {
        if (!f.ws_path.starts_with("/")) {
            print_error("--ws-path must start with '/'");
            return kExitError;
        }
        c.ws_path = f.ws_path;
    }
    if (c.scenario == "offline" || c.scenario == "streams") {
        // Messages for users who are away: QoS 0 would not be kept for them.
        if (cmd.count("--qos") == 0) c.qos = 1;
        if (c.qos == 0) {
            print_error("the " + c.scenario + " scenario needs QoS 1 or 2 (offline sessions keep no QoS 0)");
            return kExitError;
        }
        if (c.warmup > 0) std::fprintf(stderr, "note: %s has no warmup: --warmup ignored\n", c.scenario.c_str());
        if (c.scenario == "streams" && !c.sys_filter.empty())
            std::fprintf(stderr, "note: --sys is read by the offline scenario only: ignored\n");
    } else if (!c.sys_filter.empty()) {
        std::fprintf(stderr, "note: --sys is read by the offline scenario only: ignored\n");
    }
    if (c.scenario == "chat" && cmd.count("--users") > 0 && c.users < 2) {
        print_error("the chat scenario needs at least 2 users");
        return kExitError;
    }
    if (c.scenario != "churn" && (c.presence || c.grace >= 0))
        std::fprintf(stderr, "note: --presence and --grace are for the churn scenario only: ignored\n");
    if (f.version == "5" || f.version == "mqttv5")
        c.version = mqtt::ProtocolVersion::V5;
    else if (f.version == "311" || f.version == "mqttv311")
        c.version = mqtt::ProtocolVersion::V311;
    else {
        print_error("unknown protocol version '" + f.version + "' (5 or 311)");
        return kExitError;
    }
    if (c.size < bench::kHeaderSize) {
        std::fprintf(stderr, "note: --size %zu is below the 16-byte bench header: using 16\n", c.size);
        c.size = bench::kHeaderSize;
    }
    std::string error;
    if (!bench::resolve_loopback(c, error)) {
        print_error(error);
        return kExitError;
    }
    std::random_device rd;
    c.run_id = std::to_string(getpid()) + "x" + std::to_string(rd() % 100000);

    bench::BenchResult r;
    if (c.scenario == "conns")
        r = bench::run_conns(c);
    else if (c.scenario == "churn")
        r = bench::run_churn(c);
    else if (c.scenario == "offline")
        r = bench::run_offline(c);
    else if (c.scenario == "streams")
        r = bench::run_streams(c);
    else
        r = bench::run_flow(c);

    for (const auto& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    bool nothing_done = r.flow.sent == 0 && r.connections == 0;
    if (c.json)
        bench::print_json(c, r);
    else if (r.error.empty() || !nothing_done)
        bench::print_text(c, r);
    std::fflush(stdout);
    if (!r.error.empty()) {
        print_error(r.error);
        return kExitError;
    }
    return kExitOk;
}

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
    auto f = std::make_shared<BenchFlags>();
    CLI::App* cmd = app.add_subcommand("bench", "Load a broker on loopback and measure it");
    cmd->set_help_flag("--help", "Print this help message and exit");
    bench::BenchConfig& c = f->config;
    cmd->add_option("scenario", c.scenario, "conns | fanin | fanout | chat | churn | offline | streams")
        ->required()
        ->check(CLI::IsMember({"conns", "fanin", "fanout", "chat", "churn", "offline", "streams"}));
    cmd->add_option("-h,--host", c.host, "Broker host (must be loopback)")->capture_default_str();
    cmd->add_option("-p,--port", f->port, "Broker port")->capture_default_str()->check(CLI::Range(1, 65535));
    cmd->add_flag("--ws", f->ws, "Every client speaks MQTT over WebSocket (RFC 6455, subprotocol mqtt)");
    cmd->add_option("--ws-path", f->ws_path, "The WebSocket path with --ws")->capture_default_str();
    cmd->add_option("-V,--protocol-version", f->version, "5 | 311")->capture_default_str();
    cmd->add_option("-q,--qos", f->qos, "QoS of publishes and subscriptions (offline: default 1)")->capture_default_str()->check(CLI::Range(0, 2));
    cmd->add_option("-s,--size", c.size, "Payload bytes (at least 16)")->capture_default_str();
    cmd->add_option("-r,--rate", c.rate,
                    "Fixed total rate, messages (churn: connects) per second; default closed loop (chat: 10000)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("-d,--duration", c.duration, "Seconds to measure (the run is always bounded)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("-n,--count", c.count, "Messages to publish in all (conns: connections; churn: cycles; offline: default 100 per subscriber; streams: 10000 per user)");
    cmd->add_option("--warmup", c.warmup, "Seconds of load before measuring")->check(CLI::NonNegativeNumber);
    cmd->add_option("-P,--publishers", c.publishers, "Publishers (fanin, offline and streams default 8, fanout 1)")->check(CLI::PositiveNumber);
    cmd->add_option("-S,--subscribers", c.subscribers, "Subscribers (fanin default 1, fanout and offline 100)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("-U,--users", c.users, "chat: users (default 1000); streams: offline users (default 10)")->check(CLI::Range(1, 1000000));
    cmd->add_option("-c,--connections", c.connections,
                    "conns: idle connections (default 1000); churn: connections at once (default 50)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("-w,--window", f->window, "Closed loop: messages in flight per subscriber")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000000));
    cmd->add_option("--inflight", c.inflight,
                    "QoS 1/2 messages unacknowledged per publisher with -V 311 (5.0 uses the server's Receive Maximum)")
        ->capture_default_str()
        ->check(CLI::Range(1, 65535));
    cmd->add_option("-t,--topic", c.topic, "fanin/fanout topic (default herald-bench/RUN/SCENARIO); offline: inbox prefix, TOPIC/<i>");
    cmd->add_option("--per-inbox", c.per_inbox,
                    "offline: persistent subscribers per inbox topic (default 1); -S 10 --per-inbox 10: one topic, "
                    "each message queued for 10 sessions")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--sys", c.sys_filter,
                    "offline: at the end, read the broker's retained statistics under this filter (e.g. '$SYS/#')");
    cmd->add_flag("--presence", c.presence,
                  "churn: each client is a user of its own, without a will; the watcher counts the offline "
                  "records of presence/+ (the broker must keep presence, visible to all)");
    cmd->add_option("--grace", c.grace,
                    "churn: the broker's presence grace in seconds, subtracted from the drop->event latency")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--pid", c.broker_pid, "conns, streams: the broker's pid, to read its memory from /proc");
    cmd->add_option("--data-dir", c.data_dir, "streams: heraldd's data_dir, to size its store (herald.db + -wal)");
    cmd->add_flag("--resubscribe", c.resubscribe,
                  "streams: devices come back with a clean session and SUBSCRIBE (heraldd replays from their cursor)");
    cmd->add_flag("--json", c.json, "Print one JSON object instead of the text report");
    cmd->add_flag("--quiet", f->quiet, "No progress lines on stderr");
    cmd->footer(
        "Scenarios:\n"
        "  conns   N idle connections (-c), spread over 127.0.0.x sources; connects/s, broker memory (--pid)\n"
        "  fanin   P publishers -> 1 subscriber on one topic\n"
        "  fanout  1 publisher -> N subscribers on one topic\n"
        "  chat    U users subscribed to users/{u}/#, random pairs publish users/{to}/{from} at --rate\n"
        "  churn   clients with a will connect and drop without DISCONNECT; a watcher counts the wills and\n"
        "          times each from its drop (--presence: users without wills, the offline records of presence/+)\n"
        "  offline S persistent subscribers subscribe to their inboxes and leave; P publishers send QoS 1 to the\n"
        "          inboxes (PUBACKs/s, PUBACK latency); the subscribers come back and drain their queues\n"
        "  streams U users' devices subscribe to users/{me}/# and leave; P publishers send QoS 1 to users/{u}/{p}\n"
        "          (appends/s); each device comes back alone and is timed until all its messages are in");
    return [f, cmd](const std::vector<PropertyArg>&) { return run_bench(*f, *cmd); };
}

}  // namespace herald::tools
