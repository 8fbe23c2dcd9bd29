// The message scenarios: fanin and fanout (P publishers -> S subscribers on one topic) and chat
// (U users, each subscribed to its inbox users/{u}/#, random pairs writing to users/{to}/{from}
// at a fixed total rate).
//
// Every payload carries (source, seq, send time), so the receiving side of this same process
// counts latency, losses, duplicates and reorderings per stream. In closed loop the publishers
// keep at most --window messages in flight per subscriber (published and not yet received):
// the bench then measures how fast the broker delivers, not how it drops QoS 0 for a consumer
// that has fallen behind. All sending happens in one uv_check callback per loop turn, so the
// messages of a turn leave in one write per connection.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "tools/bench/fleet.h"
#include "tools/bench/payload.h"

namespace herald::tools::bench {

namespace {

constexpr uint64_t kStallNs = 2 * kNsPerS;  // no delivery for this long with a full window: give up
constexpr uint64_t kDrainNs = 5 * kNsPerS;  // longest wait for the last deliveries

enum class Phase : uint8_t { Connecting, Subscribing, Warmup, Measuring, Draining, Closing };

struct Publisher {
    Client* client = nullptr;
    uint32_t source = 0;
    uint64_t sent = 0;
    uint64_t limit = UINT64_MAX;  // --count share
    double rate = 0;              // messages per second, 0 = closed loop
};

struct Receiver {
    Client* client = nullptr;
    std::vector<StreamState> streams;  // indexed by source
    uint64_t progress = 0;             // sum of streams[].next: how far this receiver has got
};

// Small and fast: chat picks a random pair per message.
struct XorShift {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

class FlowRun {
public:
    explicit FlowRun(const BenchConfig& config) : cfg_(config) {}

    BenchResult run();

private:
    void build();
    void on_connected(const std::string& error);
    void on_subscribed();
    void start_load();
    void pump();
    void pump_streams(uint64_t now);
    void pump_chat(uint64_t now);
    void send_one(Publisher& p, std::string_view topic, uint32_t seq, uint64_t now);
    void on_message(Receiver& r, const mqtt::Publish& m);
    void begin_drain(uint64_t now, const char* why);
    void finish();
    void fail(const std::string& error);
    void progress_line();

    const BenchConfig& cfg_;
    uv_loop_t loop_;
    std::unique_ptr<Fleet> fleet_;
    uv_check_t check_;
    uv_timer_t tick_, progress_timer_;
    bool handles_open_ = false;
    Phase phase_ = Phase::Connecting;
    bool chat_ = false;

    std::vector<Publisher> pubs_;
    std::vector<Receiver> recvs_;  // chat: one per user, same index as pubs_
    std::string topic_;
    std::string payload_;           // reused for every message
    std::string chat_topic_;        // reused for every chat message
    std::vector<uint32_t> pair_seq_;  // chat: next seq per (from, to)
    XorShift rng_;
    size_t subacks_ = 0;
    size_t rr_ = 0;

    uint64_t t_start_ = 0, t_measure_ = 0, t_end_ = 0, t_stop_ = 0, t_drain_end_ = 0;
    uint64_t total_sent_ = 0;
    uint64_t t_last_measured_ = 0;  // time of the last delivery of a measured message
    uint64_t min_progress_ = 0;
    uint64_t last_delivery_ns_ = 0;
    uint64_t foreign_ = 0;  // messages on our topics that are not ours
    BenchResult res_;
    uint64_t last_pub_ = 0, last_recv_ = 0, last_line_ns_ = 0;
};

void FlowRun::build() {
    chat_ = cfg_.scenario == "chat";
    std::string prefix = "hb-" + cfg_.run_id + "-";
    if (chat_) {
        int users = cfg_.users > 0 ? cfg_.users : 1000;
        res_.users = users;
        for (int u = 0; u < users; ++u) {
            ConnectOptions o = client_options(cfg_, prefix + "u" + std::to_string(u), size_t(u), false);
            // Username = the user's number: the broker lets only user {from} publish to
            // users/{to}/{from} and only {to} read it (SPEC 3).
            o.username = std::to_string(u);
            Client* c = fleet_->add(o);
            pubs_.push_back(Publisher{c, uint32_t(u), 0, UINT64_MAX, 0});
            recvs_.push_back(Receiver{c, {}, 0});
        }
        pair_seq_.assign(size_t(users) * size_t(users), 0);
        return;
    }
    bool fanin = cfg_.scenario == "fanin";
    int np = cfg_.publishers > 0 ? cfg_.publishers : (fanin ? 8 : 1);
    int ns = cfg_.subscribers > 0 ? cfg_.subscribers : (fanin ? 1 : 100);
    res_.publishers = np;
    res_.subscribers = ns;
    topic_ = cfg_.topic.empty() ? "herald-bench/" + cfg_.run_id + "/" + cfg_.scenario : cfg_.topic;
    for (int s = 0; s < ns; ++s) {
        Client* c = fleet_->add(client_options(cfg_, prefix + "s" + std::to_string(s), size_t(s), false));
        recvs_.push_back(Receiver{c, std::vector<StreamState>(size_t(np)), 0});
    }
    for (int p = 0; p < np; ++p) {
        Client* c = fleet_->add(client_options(cfg_, prefix + "p" + std::to_string(p), size_t(p), false));
        Publisher pub{c, uint32_t(p), 0, UINT64_MAX, cfg_.rate > 0 ? cfg_.rate / np : 0};
        if (cfg_.count > 0) pub.limit = cfg_.count / uint64_t(np) + (uint64_t(p) < cfg_.count % uint64_t(np) ? 1 : 0);
        pubs_.push_back(pub);
    }
}

BenchResult FlowRun::run() {
    res_.scenario = cfg_.scenario;
    uv_loop_init(&loop_);
    fleet_ = std::make_unique<Fleet>(&loop_);
    payload_.assign(std::max(cfg_.size, kHeaderSize), 'x');
    build();

    uv_check_init(&loop_, &check_);
    check_.data = this;
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    uv_timer_init(&loop_, &progress_timer_);
    progress_timer_.data = this;
    handles_open_ = true;

    for (size_t i = 0; i < recvs_.size(); ++i) {
        Receiver* r = &recvs_[i];
        r->client->on_message = [this, r](const mqtt::Publish& m, std::string_view) { on_message(*r, m); };
    }
    for (auto& c : fleet_->clients()) {
        Client* client = c.get();
        client->on_close = [this, client](const CloseInfo& info) {
            if (phase_ != Phase::Closing && phase_ != Phase::Connecting)
                fail("connection " + client->client_id() + " closed: " + (info.error.empty() ? "by server" : info.error));
        };
        client->on_publish_done = [this](uint16_t, mqtt::ReasonCode reason) {
            if (mqtt::is_error(reason)) fail("publish refused: " + std::string(mqtt::reason_name(reason)));
        };
    }
    fleet_->connect_all(200, nullptr, [this](const std::string& error) { on_connected(error); });
    uv_run(&loop_, UV_RUN_DEFAULT);

    fleet_.reset();  // every client is closed: this closes the fleet's own handles
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);

    res_.flow.sent = total_sent_;
    // Deliveries go on after the last publish: their rate is over the time they took.
    res_.delivery_seconds = t_last_measured_ > t_measure_ ? double(t_last_measured_ - t_measure_) / double(kNsPerS) : 0;
    if (res_.delivery_seconds < res_.seconds) res_.delivery_seconds = res_.seconds;
    res_.flow.expected = chat_ ? total_sent_ : total_sent_ * recvs_.size();
    if (foreign_ > 0) res_.notes.push_back(std::to_string(foreign_) + " messages on the bench topics were not the bench's");
    return res_;
}

void FlowRun::on_connected(const std::string& error) {
    if (!error.empty()) {
        fail("cannot connect to " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + error);
        return;
    }
    phase_ = Phase::Subscribing;
    auto qos = cfg_.qos;
    for (size_t i = 0; i < recvs_.size(); ++i) {
        std::string filter = chat_ ? "users/" + std::to_string(i) + "/#" : topic_;
        mqtt::Subscription sub;
        sub.filter = filter;
        sub.options.qos = qos;
        recvs_[i].client->subscribe({sub}, [this, filter](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            if (reasons.empty() || mqtt::is_error(reasons[0])) {
                fail("subscription to " + filter + " refused" +
                     (reasons.empty() ? "" : ": " + std::string(mqtt::reason_name(reasons[0]))));
                return;
            }
            if (++subacks_ == recvs_.size()) on_subscribed();
        });
    }
}

void FlowRun::on_subscribed() {
    if (phase_ != Phase::Subscribing) return;
    start_load();
}

void FlowRun::start_load() {
    uint64_t now = uv_hrtime();
    t_start_ = now;
    t_measure_ = now + uint64_t(cfg_.warmup * double(kNsPerS));
    double limit_s = cfg_.duration_given || cfg_.count == 0 ? cfg_.duration : 60.0;
    t_end_ = t_measure_ + uint64_t(limit_s * double(kNsPerS));
    last_delivery_ns_ = now;
    last_line_ns_ = now;
    phase_ = t_measure_ > now ? Phase::Warmup : Phase::Measuring;
    uv_check_start(&check_, [](uv_check_t* h) { static_cast<FlowRun*>(h->data)->pump(); });
    // The tick wakes the loop: every millisecond for a fixed rate, else often enough to notice
    // the end of a phase or a stall while waiting for the broker.
    bool fixed = chat_ || cfg_.rate > 0;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, fixed ? 1 : 20, fixed ? 1 : 20);
    if (cfg_.progress)
        uv_timer_start(&progress_timer_, [](uv_timer_t* t) { static_cast<FlowRun*>(t->data)->progress_line(); },
                       1000, 1000);
    pump();
}

void FlowRun::pump() {
    uint64_t now = uv_hrtime();
    if (phase_ == Phase::Warmup && now >= t_measure_) {
        phase_ = Phase::Measuring;
        res_.latency.reset();
        res_.published = res_.delivered = 0;
    }
    if (phase_ == Phase::Warmup || phase_ == Phase::Measuring) {
        bool all_done = true;
        for (auto& p : pubs_)
            if (p.sent < p.limit) all_done = false;
        if (chat_ && cfg_.count > 0) all_done = total_sent_ >= cfg_.count;
        if (now >= t_end_) {
            begin_drain(now, nullptr);
        } else if (all_done) {
            begin_drain(now, nullptr);
        } else if (chat_) {
            pump_chat(now);
        } else {
            pump_streams(now);
        }
    }
    if (phase_ == Phase::Draining) {
        uint64_t expected = chat_ ? total_sent_ : total_sent_ * recvs_.size();
        if (res_.flow.received + 0 >= expected || now >= t_drain_end_ || now - last_delivery_ns_ > kNsPerS) finish();
    }
}

void FlowRun::pump_streams(uint64_t now) {
    // The window is per subscriber: the slowest one bounds everybody.
    uint64_t outstanding = total_sent_ - min_progress_;
    if (outstanding >= cfg_.window) {
        min_progress_ = UINT64_MAX;
        for (const auto& r : recvs_) min_progress_ = std::min(min_progress_, r.progress);
        outstanding = total_sent_ - min_progress_;
        if (outstanding >= cfg_.window) {
            if (now - last_delivery_ns_ > kStallNs) {
                res_.notes.push_back("no delivery for 2 s with " + std::to_string(outstanding) +
                                     " messages in flight: the broker dropped or held them; run stopped");
                begin_drain(now, "stall");
            }
            return;
        }
    }
    uint64_t room = cfg_.window - outstanding;
    for (size_t i = 0; i < pubs_.size() && room > 0; ++i) {
        Publisher& p = pubs_[(rr_ + i) % pubs_.size()];
        uint64_t n = std::min<uint64_t>(p.limit - p.sent, room);
        if (p.rate > 0) {
            uint64_t due = uint64_t(p.rate * double(now - t_start_) / double(kNsPerS)) + 1;
            n = std::min<uint64_t>(n, due > p.sent ? due - p.sent : 0);
        }
        if (cfg_.qos > 0) {
            size_t max = cfg_.version == mqtt::ProtocolVersion::V5 ? p.client->server_receive_maximum() : cfg_.inflight;
            size_t inflight = p.client->inflight();
            n = std::min<uint64_t>(n, inflight < max ? max - inflight : 0);
        }
        n = std::min<uint64_t>(n, kMaxBatch);
        for (uint64_t k = 0; k < n; ++k) send_one(p, topic_, uint32_t(p.sent), now);
        room -= n;
    }
    ++rr_;
}

void FlowRun::pump_chat(uint64_t now) {
    double rate = cfg_.rate > 0 ? cfg_.rate : 10000;
    uint64_t due = uint64_t(rate * double(now - t_start_) / double(kNsPerS)) + 1;
    if (cfg_.count > 0) due = std::min<uint64_t>(due, cfg_.count);
    uint64_t n = std::min<uint64_t>(due > total_sent_ ? due - total_sent_ : 0, kMaxBatch);
    size_t users = pubs_.size();
    for (uint64_t k = 0; k < n; ++k) {
        size_t from = size_t(rng_.next() % users);
        size_t to = size_t(rng_.next() % (users - 1));
        if (to >= from) ++to;
        chat_topic_.assign("users/");
        chat_topic_ += std::to_string(to);
        chat_topic_ += '/';
        chat_topic_ += std::to_string(from);
        send_one(pubs_[from], chat_topic_, pair_seq_[from * users + to]++, now);
    }
}

void FlowRun::send_one(Publisher& p, std::string_view topic, uint32_t seq, uint64_t now) {
    write_header(payload_.data(), PayloadHeader{p.source, seq, now});
    PublishStatus s = p.client->publish(topic, payload_, cfg_.qos, false);
    if (s == PublishStatus::NotConnected || s == PublishStatus::Invalid) {
        fail("publish on " + std::string(topic) + " refused by the client");
        return;
    }
    ++p.sent;
    ++total_sent_;
    if (phase_ == Phase::Measuring) ++res_.published;
}

void FlowRun::on_message(Receiver& r, const mqtt::Publish& m) {
    PayloadHeader h;
    if (!m.payload || !read_header(*m.payload, h)) {
        ++foreign_;
        return;
    }
    if (r.streams.empty() && chat_) r.streams.resize(pubs_.size());
    if (h.source >= r.streams.size()) {
        ++foreign_;
        return;
    }
    StreamState& st = r.streams[h.source];
    uint32_t before = st.next;
    StreamState::Kind kind = st.accept(h.seq);
    r.progress += st.next - before;
    if (kind == StreamState::Kind::Duplicate) {
        ++res_.flow.duplicates;
        return;
    }
    if (kind == StreamState::Kind::Late) ++res_.flow.reordered;
    ++res_.flow.received;
    uint64_t now = uv_hrtime();
    last_delivery_ns_ = now;
    if (h.send_ns >= t_measure_ && phase_ != Phase::Warmup) {
        ++res_.delivered;
        res_.latency.record(now - h.send_ns);
        t_last_measured_ = now;
    }
}

void FlowRun::begin_drain(uint64_t now, const char*) {
    if (phase_ != Phase::Warmup && phase_ != Phase::Measuring) return;
    if (phase_ == Phase::Warmup) res_.notes.push_back("the run ended during warmup: nothing measured");
    phase_ = Phase::Draining;
    t_stop_ = now;
    t_drain_end_ = now + kDrainNs;
    res_.seconds = now > t_measure_ ? double(now - t_measure_) / double(kNsPerS) : 0;
    uv_timer_stop(&tick_);
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 10, 10);
}

void FlowRun::finish() {
    if (phase_ == Phase::Closing) return;
    phase_ = Phase::Closing;
    if (handles_open_) {
        handles_open_ = false;
        uv_check_stop(&check_);
        uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&progress_timer_), nullptr);
    }
    fleet_->close_all(2000, [] {});
}

void FlowRun::fail(const std::string& error) {
    if (phase_ == Phase::Closing) return;
    if (res_.error.empty()) res_.error = error;
    if (phase_ == Phase::Warmup || phase_ == Phase::Measuring) res_.seconds = double(uv_hrtime() - t_measure_) / double(kNsPerS);
    finish();
}

void FlowRun::progress_line() {
    uint64_t now = uv_hrtime();
    double dt = double(now - last_line_ns_) / double(kNsPerS);
    if (dt <= 0) return;
    double pub_rate = double(total_sent_ - last_pub_) / dt;
    double recv_rate = double(res_.flow.received - last_recv_) / dt;
    last_pub_ = total_sent_;
    last_recv_ = res_.flow.received;
    last_line_ns_ = now;
    double elapsed = double(now - t_start_) / double(kNsPerS);
    char p99[32] = "-";
    if (res_.latency.count() > 0)
        std::snprintf(p99, sizeof(p99), "%.3f ms", double(res_.latency.percentile(0.99)) / double(kNsPerMs));
    std::fprintf(stderr, "%s %5.1fs%s  published %.0f/s  delivered %.0f/s  p99 %s  in flight %llu\n",
                 cfg_.scenario.c_str(), elapsed, phase_ == Phase::Warmup ? " (warmup)" : "", pub_rate, recv_rate, p99,
                 (unsigned long long)(chat_ ? total_sent_ - res_.flow.received
                                            : total_sent_ * recvs_.size() - res_.flow.received));
}

}  // namespace

BenchResult run_flow(const BenchConfig& config) {
    FlowRun run(config);
    return run.run();
}

}  // namespace herald::tools::bench
