// The connection scenarios. `conns`: N idle connections, spread over 127.0.0.x source
// addresses, for the connect rate and the broker's memory per connection (its VmRSS before and
// after). `churn`: clients with a will connect and drop abruptly (close without DISCONNECT)
// while a watcher subscribed to the will topics counts the wills the broker publishes.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "tools/bench/fleet.h"
#include "tools/bench/payload.h"

namespace herald::tools::bench {

namespace {

constexpr uint64_t kNsPerS = 1000000000;

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

class ChurnRun {
public:
    explicit ChurnRun(const BenchConfig& c) : cfg_(c) {}
    BenchResult run();

private:
    void start_one();
    void maybe_end();
    void on_will(const mqtt::Publish& m);

    const BenchConfig& cfg_;
    uv_loop_t loop_;
    std::unique_ptr<Fleet> fleet_;  // the watcher only: churn clients are owned by their on_close
    Client* watcher_ = nullptr;
    BenchResult res_;
    std::string will_prefix_;
    uint64_t started_ = 0, live_ = 0, failed_ = 0;
    uint64_t t0_ = 0, t_stop_ = 0;
    bool stopping_ = false, closing_ = false;
    std::vector<bool> seen_;
    uint64_t last_will_ns_ = 0;
    uv_timer_t tick_;
    uint64_t last_line_ = 0;
};

BenchResult ChurnRun::run() {
    res_.scenario = "churn";
    uv_loop_init(&loop_);
    fleet_ = std::make_unique<Fleet>(&loop_);
    will_prefix_ = "herald-bench/" + cfg_.run_id + "/will/";
    watcher_ = fleet_->add(client_options(cfg_, "hb-" + cfg_.run_id + "-watcher", 0, false));
    watcher_->on_message = [this](const mqtt::Publish& m, std::string_view) { on_will(m); };
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
        sub.filter = will_prefix_ + "#";
        sub.options.qos = cfg_.qos;
        watcher_->subscribe({sub}, [this](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            if (reasons.empty() || mqtt::is_error(reasons[0])) {
                res_.error = "the watcher's subscription was refused";
                stopping_ = true;
                maybe_end();
                return;
            }
            t0_ = uv_hrtime();
            last_will_ns_ = t0_;
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
    return res_;
}

void ChurnRun::start_one() {
    if (stopping_) return;
    if (cfg_.count > 0 && started_ >= cfg_.count) return;
    uint64_t i = started_++;
    ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-ch" + std::to_string(i), size_t(i), true);
    o.keep_alive = 0;
    mqtt::Will will;
    will.topic = will_prefix_ + std::to_string(i);
    will.payload.assign(std::max(cfg_.size, kHeaderSize), 'w');
    write_header(will.payload.data(), PayloadHeader{uint32_t(i), 0, uv_hrtime()});
    will.qos = cfg_.qos;
    o.will = std::move(will);
    auto* c = new Client(fleet_->client_loop(), std::move(o));
    ++live_;
    c->on_connect = [this, c](const ConnectResult& r) {
        if (r.ok) {
            ++res_.connections;
            ++res_.wills_expected;
            c->close("dropped");  // abrupt: no DISCONNECT, so the broker publishes the will
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

void ChurnRun::on_will(const mqtt::Publish& m) {
    PayloadHeader h;
    if (!m.payload || !read_header(*m.payload, h)) return;
    if (seen_.size() <= h.source) seen_.resize(std::max<size_t>(size_t(h.source) + 1, seen_.size() * 2));
    if (seen_[h.source]) {
        ++res_.wills_duplicate;
        return;
    }
    seen_[h.source] = true;
    ++res_.wills_seen;
    last_will_ns_ = uv_hrtime();
}

void ChurnRun::maybe_end() {
    if (closing_) return;
    uint64_t now = uv_hrtime();
    if (!stopping_ && (now - t0_ >= uint64_t(cfg_.duration * double(kNsPerS)) ||
                       (cfg_.count > 0 && started_ >= cfg_.count)))
        stopping_ = true;
    if (cfg_.progress && now - last_line_ >= kNsPerS && !stopping_) {
        last_line_ = now;
        std::fprintf(stderr, "churn %5.1fs  connects %llu (%.0f/s)  wills %llu\n", seconds_since(t0_),
                     (unsigned long long)res_.connections, double(res_.connections) / seconds_since(t0_),
                     (unsigned long long)res_.wills_seen);
    }
    if (!stopping_ || live_ > 0) return;
    if (t_stop_ == 0) t_stop_ = now;
    // Wait for the last wills: until all are in, or 1 s passes with none new (at most 5 s).
    bool all = res_.wills_seen >= res_.wills_expected;
    if (all || now - last_will_ns_ > kNsPerS || now - t_stop_ > 5 * kNsPerS) {
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
