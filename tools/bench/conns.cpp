// The connection scenarios. `conns`: N idle connections, spread over 127.0.0.x source
// addresses, for the connect rate and the broker's memory per connection (its VmRSS before and
// after). `churn`: clients connect and drop abruptly (close without DISCONNECT) while a
// watcher counts the event the broker makes of each drop — the client's will, or (--presence)
// the retained `presence/{u}` record saying its user went offline — and times it from the drop.
//
// Presence mode: each cycle is a user of its own (hb-RUN-u<cycle>, no will), so each drop is
// its user's last device leaving and must give exactly one offline record, after the broker's
// grace (--grace tells it to the bench, which reports the latency beyond it). The watcher, a
// user too, subscribes to presence/+ (the broker must let it see every user: visibility "all").
#include <algorithm>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "tools/bench/fleet.h"
#include "tools/bench/payload.h"

namespace herald::tools::bench {

namespace {

double seconds_since(uint64_t t0) { return double(uv_hrtime() - t0) / double(kNsPerS); }

// A one-shot timer owned by the loop; the callback runs at most once.
struct Deadline {
    uv_timer_t timer;
    std::function<void()> fn;
    void start(uv_loop_t* loop, uint64_t ms, std::function<void()> f) {
        fn = std::move(f);
        uv_timer_init(loop, &timer);
        timer.data = this;
        uv_timer_start(&timer, [](uv_timer_t* t) { static_cast<Deadline*>(t->data)->fn(); }, ms, 0);
    }
    void close() { uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr); }
};

}  // namespace

BenchResult run_conns(const BenchConfig& cfg) {
    BenchResult res;
    res.scenario = "conns";
    uint64_t want = cfg.connections > 0 ? uint64_t(cfg.connections) : cfg.count > 0 ? cfg.count : 1000;
    long hard = 0;
    long room = raise_fd_limit(&hard);
    if (room >= 0 && want > uint64_t(room)) {
        res.notes.push_back("stopping at " + std::to_string(room) +
                            " connections: this process may hold at most " + std::to_string(hard) +
                            " file descriptors");
        want = uint64_t(std::max(room, 0L));
    }
    res.rss_before_kb = cfg.broker_pid > 0 ? read_rss_kb(cfg.broker_pid) : -1;

    uv_loop_t loop;
    uv_loop_init(&loop);
    auto fleet = std::make_unique<Fleet>(&loop);
    std::string prefix = "hb-" + cfg.run_id + "-c";
    for (uint64_t i = 0; i < want; ++i) fleet->add(client_options(cfg, prefix + std::to_string(i), size_t(i), true));

    uint64_t t0 = uv_hrtime();
    bool stopped = false;
    Deadline limit, settle;
    auto stop = [&](const std::string& why) {
        if (stopped) return;
        stopped = true;
        res.connect_seconds = seconds_since(t0);
        if (!why.empty()) res.notes.push_back(why);
        limit.close();
        // Let the broker finish its bookkeeping for the last connections before reading its RSS.
        settle.start(&loop, 500, [&] {
            settle.close();
            if (cfg.broker_pid > 0) res.rss_after_kb = read_rss_kb(cfg.broker_pid);
            fleet->close_all(3000, [] {});
        });
    };
    limit.start(&loop, uint64_t(cfg.duration * 1000), [&] {
        stop("stopping at " + std::to_string(res.connections) + " connections: the duration (" +
             std::to_string(int(cfg.duration)) + " s) is over");
    });
    fleet->connect_all(
        256,
        [&](Client&, const ConnectResult& r) {
            if (r.ok) ++res.connections;
        },
        [&](const std::string& error) {
            stop(error.empty() ? "" : "stopping at " + std::to_string(res.connections) + " connections: " + error);
        });
    if (cfg.progress) std::fprintf(stderr, "conns: connecting %llu clients\n", (unsigned long long)want);
    uv_run(&loop, UV_RUN_DEFAULT);
    fleet.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (res.connections == 0) res.error = res.notes.empty() ? "no connection made" : res.notes.back();
    return res;
}

namespace {

// The time the end of a churn run waits for the last events beyond the grace, and at most.
constexpr uint64_t kSilenceNs = kNsPerS;
constexpr uint64_t kWaitMaxNs = 5 * kNsPerS;
// heraldd's default presence grace: what a presence run waits for when --grace is not given.
constexpr double kDefaultPresenceGrace = 5.0;

class ChurnRun {
public:
    explicit ChurnRun(const BenchConfig& c) : cfg_(c) {}
    BenchResult run();

private:
    void start_one();
    void maybe_end();
    void on_message(const mqtt::Publish& m, std::string_view topic);
    void on_event(uint64_t cycle);

    const BenchConfig& cfg_;
    uv_loop_t loop_;
    std::unique_ptr<Fleet> fleet_;  // the watcher only: churn clients are owned by their on_close
    Client* watcher_ = nullptr;
    BenchResult res_;
    std::string will_prefix_;      // will mode: the will topics, prefix + cycle
    std::string user_prefix_;      // presence mode: the users, prefix + cycle
    std::string presence_prefix_;  // presence mode: "presence/" + user_prefix_
    uint64_t started_ = 0, live_ = 0, failed_ = 0;
    uint64_t t0_ = 0, t_stop_ = 0;
    uint64_t grace_ns_ = 0;        // subtracted from the latency (--grace)
    uint64_t wait_grace_ns_ = 0;   // allowed for at the end (presence without --grace: 5 s)
    bool stopping_ = false, closing_ = false;
    std::vector<bool> seen_;
    std::vector<uint64_t> dropped_ns_;  // per cycle: when its client closed the socket; 0 = not yet
    uint64_t unmatched_ = 0;            // events of a cycle not dropped (cannot happen)
    uint64_t last_event_ns_ = 0;
    uv_timer_t tick_;
    uint64_t last_line_ = 0;
};

BenchResult ChurnRun::run() {
    res_.scenario = "churn";
    uv_loop_init(&loop_);
    fleet_ = std::make_unique<Fleet>(&loop_);
    will_prefix_ = "herald-bench/" + cfg_.run_id + "/will/";
    user_prefix_ = "hb-" + cfg_.run_id + "-u";
    presence_prefix_ = "presence/" + user_prefix_;
    if (cfg_.grace > 0) grace_ns_ = uint64_t(cfg_.grace * double(kNsPerS));
    wait_grace_ns_ = grace_ns_;
    if (cfg_.presence && cfg_.grace < 0) {
        wait_grace_ns_ = uint64_t(kDefaultPresenceGrace * double(kNsPerS));
        res_.notes.push_back("--grace not given: latencies include the broker's grace; waiting as for 5 s");
    }
    ConnectOptions wo = client_options(cfg_, "hb-" + cfg_.run_id + "-watcher", 0, false);
    if (cfg_.presence) wo.username = "hb-" + cfg_.run_id + "-watcher";  // presence/+ needs a user
    watcher_ = fleet_->add(std::move(wo));
    watcher_->on_message = [this](const mqtt::Publish& m, std::string_view topic) { on_message(m, topic); };
    watcher_->on_close = [this](const CloseInfo& info) {
        if (!closing_ && res_.error.empty()) res_.error = "the watcher's connection closed: " + info.error;
        stopping_ = true;
    };
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    fleet_->connect_all(1, nullptr, [this](const std::string& error) {
        if (!error.empty()) {
            res_.error = "cannot connect to " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + error;
            closing_ = true;
            uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
            return;
        }
        mqtt::Subscription sub;
        sub.filter = cfg_.presence ? "presence/+" : will_prefix_ + "#";
        sub.options.qos = cfg_.qos;
        sub.options.retain_handling = 2;  // 5.0: not the retained records of earlier runs
        watcher_->subscribe({sub}, [this](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            if (reasons.empty() || mqtt::is_error(reasons[0])) {
                res_.error = cfg_.presence ? "the watcher's subscription to presence/+ was refused (does the "
                                             "broker keep presence, with visibility \"all\"?)"
                                           : "the watcher's subscription was refused";
                stopping_ = true;
                maybe_end();
                return;
            }
            t0_ = uv_hrtime();
            last_event_ns_ = t0_;
            last_line_ = t0_;
            size_t parallel = cfg_.connections > 0 ? size_t(cfg_.connections) : 50;
            for (size_t i = 0; i < parallel; ++i) start_one();
            uv_timer_start(&tick_, [](uv_timer_t* t) { static_cast<ChurnRun*>(t->data)->maybe_end(); }, 20, 20);
        });
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    fleet_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    res_.connect_seconds = t_stop_ > t0_ ? double(t_stop_ - t0_) / double(kNsPerS) : 0;
    if (failed_ > 0) res_.notes.push_back(std::to_string(failed_) + " connection attempts failed");
    if (unmatched_ > 0) res_.notes.push_back(std::to_string(unmatched_) + " events of clients not yet dropped");
    return res_;
}

void ChurnRun::start_one() {
    if (stopping_) return;
    if (cfg_.count > 0 && started_ >= cfg_.count) return;
    uint64_t i = started_++;
    ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-ch" + std::to_string(i), size_t(i), true);
    o.keep_alive = 0;
    if (cfg_.presence) {
        o.username = user_prefix_ + std::to_string(i);  // a user of its own: its first device, then gone
    } else {
        mqtt::Will will;
        will.topic = will_prefix_ + std::to_string(i);
        will.payload.assign(std::max(cfg_.size, kHeaderSize), 'w');
        write_header(will.payload.data(), PayloadHeader{uint32_t(i), 0, uv_hrtime()});
        will.qos = cfg_.qos;
        o.will = std::move(will);
    }
    auto* c = new Client(fleet_->client_loop(), std::move(o));
    ++live_;
    c->on_connect = [this, c, i](const ConnectResult& r) {
        if (r.ok) {
            ++res_.connections;
            ++res_.wills_expected;
            if (dropped_ns_.size() <= i) dropped_ns_.resize(std::max<size_t>(size_t(i) + 1, dropped_ns_.size() * 2));
            dropped_ns_[i] = uv_hrtime();
            c->close("dropped");  // abrupt: no DISCONNECT, so the broker publishes the will / goes to grace
        } else {
            ++failed_;
        }
    };
    c->on_close = [this, c](const CloseInfo&) {
        delete c;
        --live_;
        if (failed_ > 100 && res_.connections == 0) {
            res_.error = "connections fail (is the broker refusing them?)";
            stopping_ = true;
        }
        start_one();
    };
    c->connect();
}

void ChurnRun::on_message(const mqtt::Publish& m, std::string_view topic) {
    if (!m.payload) return;
    if (!cfg_.presence) {
        PayloadHeader h;
        if (read_header(*m.payload, h)) on_event(h.source);
        return;
    }
    // presence/<user prefix><cycle>: a bench user of this run; anything else is someone else's.
    if (topic.substr(0, presence_prefix_.size()) != presence_prefix_) return;
    std::string_view digits = topic.substr(presence_prefix_.size());
    uint64_t cycle = 0;
    if (digits.empty() || digits.size() > 18) return;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return;
        cycle = cycle * 10 + uint64_t(ch - '0');
    }
    auto j = nlohmann::json::parse(*m.payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    auto state = j.find("state");
    if (state == j.end() || !state->is_string()) return;
    if (*state == "offline")
        on_event(cycle);
    else if (*state == "online")
        ++res_.online_seen;
}

// The event (will, or offline record) of one cycle: counted once, its latency from the drop.
void ChurnRun::on_event(uint64_t cycle) {
    uint64_t now = uv_hrtime();
    if (seen_.size() <= cycle) seen_.resize(std::max<size_t>(size_t(cycle) + 1, seen_.size() * 2));
    if (seen_[cycle]) {
        ++res_.wills_duplicate;
        return;
    }
    seen_[cycle] = true;
    ++res_.wills_seen;
    last_event_ns_ = now;
    uint64_t dropped = cycle < dropped_ns_.size() ? dropped_ns_[cycle] : 0;
    if (dropped == 0 || dropped > now) {
        ++unmatched_;
        return;
    }
    uint64_t latency = now - dropped;
    res_.latency.record(latency);
    if (latency < grace_ns_) ++res_.early;
    res_.after_grace.record(latency > grace_ns_ ? latency - grace_ns_ : 0);
}

void ChurnRun::maybe_end() {
    if (closing_) return;
    uint64_t now = uv_hrtime();
    if (!stopping_ && (now - t0_ >= uint64_t(cfg_.duration * double(kNsPerS)) ||
                       (cfg_.count > 0 && started_ >= cfg_.count)))
        stopping_ = true;
    if (cfg_.progress && now - last_line_ >= kNsPerS && !stopping_) {
        last_line_ = now;
        std::fprintf(stderr, "churn %5.1fs  connects %llu (%.0f/s)  %s %llu\n", seconds_since(t0_),
                     (unsigned long long)res_.connections, double(res_.connections) / seconds_since(t0_),
                     cfg_.presence ? "offline" : "wills", (unsigned long long)res_.wills_seen);
    }
    if (!stopping_ || live_ > 0) return;
    if (t_stop_ == 0) t_stop_ = now;
    // Wait for the last events: until all are in; or, once the last drop's grace is over, 1 s
    // passes with none new; at most 5 s beyond the grace.
    bool all = res_.wills_seen >= res_.wills_expected;
    bool quiet = now - t_stop_ > wait_grace_ns_ + kSilenceNs && now - last_event_ns_ > kSilenceNs;
    if (all || quiet || now - t_stop_ > wait_grace_ns_ + kWaitMaxNs) {
        closing_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        fleet_->close_all(2000, [] {});
    }
}

}  // namespace

BenchResult run_churn(const BenchConfig& config) {
    ChurnRun run(config);
    return run.run();
}

}  // namespace herald::tools::bench
