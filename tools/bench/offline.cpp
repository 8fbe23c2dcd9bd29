// The `offline` scenario: QoS 1 messages for users who are away. S persistent subscribers
// (5.0: Session Expiry Interval 3600 s; 3.1.1: clean session 0) subscribe to their own inbox
// herald-bench/<run>/inbox/<i> and disconnect cleanly. P publishers then spread N messages
// over the inboxes, round robin, closed loop within their inflight window (the server's Receive
// Maximum under 5.0, --inflight under 3.1.1), and the bench counts PUBACKs per second and their
// latency: a broker that acknowledges after its commit shows here what its store costs. Then
// the subscribers come back with clean start 0 and drain their queues; every acknowledged
// message must arrive, once, in order per (publisher, inbox) stream. --per-inbox K: K
// subscribers share each inbox topic (S / K topics), so every message is queued for K sessions.
//
// PUBACK latency pairs each PUBACK with the oldest unacknowledged publish of its connection: a
// server sends QoS 1 PUBACKs in the order it received the PUBLISHes [MQTT-4.6.0-2] (QoS 2:
// PUBCOMPs likewise), so the send times are a ring per publisher and nothing is looked up.
//
// At the end the sessions are removed (5.0: DISCONNECT with Session Expiry Interval 0; 3.1.1:
// a connect with clean session 1), so bench runs do not pile up sessions in a broker's store.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "tools/bench/fleet.h"
#include "tools/bench/payload.h"
#include "tools/bench/sys_reader.h"

namespace herald::tools::bench {

namespace {

constexpr uint64_t kStallNs = 2 * kNsPerS;   // no PUBACK for this long with publishes out: give up
constexpr uint64_t kQuietNs = 2 * kNsPerS;   // no delivery for this long while draining: done
constexpr uint64_t kDrainCapNs = 60 * kNsPerS;
constexpr uint32_t kSessionExpiry = 3600;
constexpr uint64_t kSysReadMs = 1500;        // --sys: how long to collect the retained values

enum class Phase : uint8_t { Connecting, Subscribing, Parking, Publishing, Resuming, Draining, Cleaning, Reading, Closing };

struct Publisher {
    Client* client = nullptr;
    uint32_t source = 0;
    uint64_t sent = 0, done = 0;  // publishes sent, and finished (PUBACK / PUBCOMP)
    uint64_t limit = UINT64_MAX;  // --count share
    double rate = 0;              // messages per second, 0 = closed loop
    std::vector<uint64_t> send_ns;  // ring of kRing: send time of publish k at k % kRing
};

struct Inbox {
    std::string topic;
    Client* again = nullptr;            // the subscriber as it comes back
    std::vector<StreamState> streams;   // indexed by publisher
};

class OfflineRun {
public:
    explicit OfflineRun(const BenchConfig& config) : cfg_(config) {}
    BenchResult run();

private:
    ConnectOptions inbox_options(size_t i, bool resume) const;
    void on_connected(const std::string& error);
    void start_publishing();
    void pump();
    void pump_publish(uint64_t now);
    void send_one(Publisher& p, uint64_t now);
    void on_done(Publisher& p, mqtt::ReasonCode reason);
    void end_publishing(uint64_t now);
    void on_message(Inbox& in, const mqtt::Publish& m);
    void end_drain(uint64_t now);
    void after_clean();
    void read_sys();
    void on_closed(Phase expected, const Client& client, const CloseInfo& info);
    void finish();
    void fail(const std::string& error);
    void progress_line();

    const BenchConfig& cfg_;
    uv_loop_t loop_;
    std::unique_ptr<Fleet> fleet_;
    uv_check_t check_;
    uv_timer_t tick_, progress_timer_;
    std::unique_ptr<SysReader> sys_;
    bool handles_open_ = false;
    Phase phase_ = Phase::Connecting;
    bool v5_ = true;

    std::vector<Publisher> pubs_;
    std::vector<Inbox> inboxes_;
    std::vector<Client*> first_;       // the subscribers before they go away
    std::vector<std::string> topics_;  // the inbox topics, each shared by per_ subscribers
    uint64_t per_ = 1;
    std::vector<uint32_t> pair_seq_;   // next seq per (publisher, inbox)
    std::string payload_;
    size_t next_inbox_ = 0, rr_ = 0, subacks_ = 0, open_ = 0;
    bool sending_ = true;

    uint64_t t_start_ = 0, t_end_ = 0, t_last_ack_ = 0, last_ack_ns_ = 0;
    uint64_t t_resume_ = 0, t_last_delivery_ = 0, last_delivery_ns_ = 0;
    uint64_t total_sent_ = 0, total_done_ = 0;
    uint64_t early_ = 0, foreign_ = 0, not_success_ = 0;
    BenchResult res_;
    uint64_t last_acked_ = 0, last_recv_ = 0, last_line_ns_ = 0;
};

ConnectOptions OfflineRun::inbox_options(size_t i, bool resume) const {
    ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-o" + std::to_string(i), i, false);
    if (v5_) {
        o.clean_start = !resume;  // a fresh session the first time, whatever a run before left
        o.props.session_expiry_interval = kSessionExpiry;
    } else {
        o.clean_start = false;  // 3.1.1 clean session 0: the session outlives the connection
    }
    return o;
}

BenchResult OfflineRun::run() {
    res_.scenario = "offline";
    v5_ = cfg_.version == mqtt::ProtocolVersion::V5;
    uv_loop_init(&loop_);
    fleet_ = std::make_unique<Fleet>(&loop_);
    payload_.assign(std::max(cfg_.size, kHeaderSize), 'x');

    int np = cfg_.publishers > 0 ? cfg_.publishers : 8;
    int ns = cfg_.subscribers > 0 ? cfg_.subscribers : 100;
    res_.publishers = np;
    res_.subscribers = ns;
    uint64_t count = cfg_.count;
    if (count == 0 && !cfg_.duration_given) count = 100 * uint64_t(ns);  // fits any sane queue limit
    std::string prefix = cfg_.topic.empty() ? "herald-bench/" + cfg_.run_id + "/inbox" : cfg_.topic;
    per_ = uint64_t(std::clamp(cfg_.per_inbox, 1, ns));
    for (int t = 0; t < (ns + int(per_) - 1) / int(per_); ++t) topics_.push_back(prefix + "/" + std::to_string(t));
    for (int s = 0; s < ns; ++s) {
        Client* c = fleet_->add(inbox_options(size_t(s), false));
        first_.push_back(c);
        inboxes_.push_back(Inbox{topics_[size_t(s) / per_], nullptr, std::vector<StreamState>(size_t(np))});
        c->on_message = [this](const mqtt::Publish&, std::string_view) { ++early_; };
        c->on_close = [this, c](const CloseInfo& info) { on_closed(Phase::Parking, *c, info); };
    }
    pubs_.resize(size_t(np));
    for (int p = 0; p < np; ++p) {
        Publisher& pub = pubs_[size_t(p)];
        pub.client = fleet_->add(client_options(cfg_, "hb-" + cfg_.run_id + "-p" + std::to_string(p), size_t(p), false));
        pub.source = uint32_t(p);
        pub.rate = cfg_.rate > 0 ? cfg_.rate / np : 0;
        if (count > 0) pub.limit = count / uint64_t(np) + (uint64_t(p) < count % uint64_t(np) ? 1 : 0);
        pub.send_ns.assign(kRing, 0);
        Publisher* pp = &pub;
        pub.client->on_publish_done = [this, pp](uint16_t, mqtt::ReasonCode r) { on_done(*pp, r); };
        pub.client->on_close = [this, pp](const CloseInfo& info) { on_closed(Phase::Closing, *pp->client, info); };
    }
    pair_seq_.assign(size_t(np) * topics_.size(), 0);

    uv_check_init(&loop_, &check_);
    check_.data = this;
    for (uv_timer_t* t : {&tick_, &progress_timer_}) {
        uv_timer_init(&loop_, t);
        t->data = this;
    }
    handles_open_ = true;

    fleet_->connect_all(200, nullptr, [this](const std::string& error) { on_connected(error); });
    uv_run(&loop_, UV_RUN_DEFAULT);
    fleet_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);

    res_.published = res_.flow.sent = total_sent_;
    // What was acknowledged must arrive, to every session of its inbox (the last inbox may
    // have fewer).
    res_.flow.expected = 0;
    for (size_t t = 0; t < topics_.size(); ++t) {
        uint64_t subs = std::min<uint64_t>(per_, inboxes_.size() - t * per_);
        for (size_t p = 0; p < pubs_.size(); ++p) res_.flow.expected += subs * pair_seq_[p * topics_.size() + t];
    }
    res_.delivered = res_.flow.received;
    if (res_.sessions_kept < inboxes_.size() && t_resume_ > 0)
        res_.notes.push_back(std::to_string(inboxes_.size() - res_.sessions_kept) + " of " +
                             std::to_string(inboxes_.size()) + " sessions came back without their state (CONNACK session present 0)");
    if (res_.flow.expected > res_.flow.received && res_.error.empty())
        res_.notes.push_back(std::to_string(res_.flow.expected - res_.flow.received) +
                             " acknowledged messages never arrived (a broker drops them beyond its queue limit, e.g. "
                             "max_queued_messages: keep -n / -S under it)");
    if (early_ > 0)
        res_.notes.push_back(std::to_string(early_) + " messages reached a subscriber before its DISCONNECT took effect (counted when redelivered)");
    if (not_success_ > 0)
        res_.notes.push_back(std::to_string(not_success_) + " PUBACKs said No matching subscribers: the sessions had not kept their subscriptions");
    if (foreign_ > 0) res_.notes.push_back(std::to_string(foreign_) + " messages on the inboxes were not the bench's");
    return res_;
}

void OfflineRun::on_connected(const std::string& error) {
    if (!error.empty()) {
        fail("cannot connect to " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + error);
        return;
    }
    phase_ = Phase::Subscribing;
    for (size_t i = 0; i < inboxes_.size(); ++i) {
        mqtt::Subscription sub;
        sub.filter = inboxes_[i].topic;
        sub.options.qos = cfg_.qos;
        first_[i]->subscribe({sub}, [this, i](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            if (reasons.empty() || mqtt::is_error(reasons[0])) {
                fail("subscription to " + inboxes_[i].topic + " refused" +
                     (reasons.empty() ? "" : ": " + std::string(mqtt::reason_name(reasons[0]))));
                return;
            }
            if (++subacks_ < inboxes_.size()) return;
            // Every inbox is subscribed: the users go away, cleanly; the load starts once the
            // last connection is closed.
            phase_ = Phase::Parking;
            open_ = first_.size();
            for (Client* c : first_) c->disconnect();
        });
    }
}

void OfflineRun::start_publishing() {
    uint64_t now = uv_hrtime();
    phase_ = Phase::Publishing;
    t_start_ = last_ack_ns_ = last_line_ns_ = now;
    double limit_s = cfg_.duration_given || cfg_.count == 0 ? cfg_.duration : 60.0;
    t_end_ = now + uint64_t(limit_s * double(kNsPerS));
    uv_check_start(&check_, [](uv_check_t* h) { static_cast<OfflineRun*>(h->data)->pump(); });
    bool fixed = cfg_.rate > 0;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, fixed ? 1 : 20, fixed ? 1 : 20);
    if (cfg_.progress)
        uv_timer_start(&progress_timer_, [](uv_timer_t* t) { static_cast<OfflineRun*>(t->data)->progress_line(); },
                       1000, 1000);
    pump();
}

void OfflineRun::pump() {
    uint64_t now = uv_hrtime();
    if (phase_ == Phase::Publishing) {
        if (sending_ && now >= t_end_) sending_ = false;
        bool all_sent = !sending_;
        if (sending_) {
            pump_publish(now);
            all_sent = std::all_of(pubs_.begin(), pubs_.end(), [](const Publisher& p) { return p.sent >= p.limit; });
        }
        if (total_done_ == total_sent_ && all_sent) {
            end_publishing(now);
        } else if (total_done_ < total_sent_ && now - last_ack_ns_ > kStallNs) {
            res_.notes.push_back("no PUBACK for 2 s with " + std::to_string(total_sent_ - total_done_) +
                                 " publishes unacknowledged: publishing stopped");
            end_publishing(now);
        }
    } else if (phase_ == Phase::Resuming || phase_ == Phase::Draining) {
        bool quiet = phase_ == Phase::Draining && now - last_delivery_ns_ > kQuietNs;
        if (res_.flow.received >= total_sent_ * per_ || quiet || now - t_resume_ > kDrainCapNs) end_drain(now);
    }
}

void OfflineRun::pump_publish(uint64_t now) {
    for (size_t i = 0; i < pubs_.size(); ++i) {
        Publisher& p = pubs_[(rr_ + i) % pubs_.size()];
        size_t max = v5_ ? p.client->server_receive_maximum() : cfg_.inflight;
        uint64_t inflight = p.sent - p.done;
        if (p.sent >= p.limit || inflight >= max) continue;
        uint64_t n = std::min<uint64_t>({p.limit - p.sent, max - inflight, kMaxBatch});
        if (p.rate > 0) {
            uint64_t due = uint64_t(p.rate * double(now - t_start_) / double(kNsPerS)) + 1;
            n = std::min<uint64_t>(n, due > p.sent ? due - p.sent : 0);
        }
        for (uint64_t k = 0; k < n && phase_ == Phase::Publishing; ++k) send_one(p, now);
    }
    ++rr_;
}

void OfflineRun::send_one(Publisher& p, uint64_t now) {
    size_t to = next_inbox_;
    next_inbox_ = next_inbox_ + 1 == topics_.size() ? 0 : next_inbox_ + 1;
    write_header(payload_.data(), PayloadHeader{p.source, pair_seq_[p.source * topics_.size() + to]++, now});
    PublishStatus s = p.client->publish(topics_[to], payload_, cfg_.qos, false);
    if (s == PublishStatus::NotConnected || s == PublishStatus::Invalid) {
        fail("publish on " + topics_[to] + " refused by the client");
        return;
    }
    p.send_ns[p.sent % kRing] = now;
    ++p.sent;
    ++total_sent_;
}

void OfflineRun::on_done(Publisher& p, mqtt::ReasonCode reason) {
    if (mqtt::is_error(reason)) {
        fail("publish refused: " + std::string(mqtt::reason_name(reason)));
        return;
    }
    if (reason == mqtt::ReasonCode::NoMatchingSubscribers) ++not_success_;
    if (p.done >= p.sent) return;  // not ours (cannot happen: every publish of p is the bench's)
    uint64_t now = uv_hrtime();
    res_.latency.record(now - p.send_ns[p.done % kRing]);
    ++p.done;
    ++total_done_;
    ++res_.acked;
    t_last_ack_ = last_ack_ns_ = now;
}

void OfflineRun::end_publishing(uint64_t now) {
    uint64_t end = t_last_ack_ > t_start_ ? t_last_ack_ : now;
    res_.seconds = double(end - t_start_) / double(kNsPerS);
    // The users come back: same client ids, clean start 0. Their queued messages may arrive
    // before the CONNACK of the last one, so deliveries count from here.
    phase_ = Phase::Resuming;
    t_resume_ = last_delivery_ns_ = now;
    for (size_t i = 0; i < inboxes_.size(); ++i) {
        Inbox* in = &inboxes_[i];
        Client* c = fleet_->add(inbox_options(i, true));
        in->again = c;
        c->on_message = [this, in](const mqtt::Publish& m, std::string_view) { on_message(*in, m); };
        c->on_close = [this, c](const CloseInfo& info) { on_closed(Phase::Cleaning, *c, info); };
    }
    fleet_->connect_all(
        200,
        [this](Client&, const ConnectResult& r) {
            if (r.ok && r.connack != nullptr && r.connack->session_present) ++res_.sessions_kept;
        },
        [this](const std::string& error) {
            if (!error.empty()) {
                fail("reconnecting a subscriber: " + error);
                return;
            }
            if (phase_ != Phase::Resuming) return;
            phase_ = Phase::Draining;
            last_delivery_ns_ = std::max(last_delivery_ns_, uv_hrtime());
        });
}

void OfflineRun::on_message(Inbox& in, const mqtt::Publish& m) {
    PayloadHeader h;
    if (!m.payload || !read_header(*m.payload, h) || h.source >= in.streams.size()) {
        ++foreign_;
        return;
    }
    StreamState::Kind kind = in.streams[h.source].accept(h.seq);
    if (kind == StreamState::Kind::Duplicate) {
        ++res_.flow.duplicates;
        return;
    }
    if (kind == StreamState::Kind::Late) ++res_.flow.reordered;
    ++res_.flow.received;
    t_last_delivery_ = last_delivery_ns_ = uv_hrtime();
}

void OfflineRun::end_drain(uint64_t now) {
    uint64_t end = t_last_delivery_ > t_resume_ ? t_last_delivery_ : now;
    res_.drain_seconds = double(end - t_resume_) / double(kNsPerS);
    uv_check_stop(&check_);
    uv_timer_stop(&tick_);
    uv_timer_stop(&progress_timer_);
    // Remove the sessions: 5.0 says so in the DISCONNECT; 3.1.1 needs a clean-session connect
    // once the connection is closed (after_clean).
    phase_ = Phase::Cleaning;
    open_ = 0;
    mqtt::Properties props;
    props.session_expiry_interval = 0;
    for (auto& in : inboxes_) {
        if (in.again == nullptr || in.again->state() != ClientState::Connected) continue;
        ++open_;
        in.again->disconnect(mqtt::ReasonCode::Success, v5_ ? &props : nullptr);
    }
    if (open_ == 0) after_clean();
}

void OfflineRun::after_clean() {
    if (v5_) {
        read_sys();
        return;
    }
    for (size_t i = 0; i < inboxes_.size(); ++i) {
        ConnectOptions o = inbox_options(i, true);
        o.clean_start = true;
        Client* c = fleet_->add(std::move(o));
        c->on_close = [this, c](const CloseInfo& info) { on_closed(Phase::Closing, *c, info); };
    }
    fleet_->connect_all(200, nullptr, [this](const std::string& error) {
        if (!error.empty()) {
            fail("removing the sessions: " + error);
            return;
        }
        read_sys();  // the clean-session clients are disconnected with the rest in finish()
    });
}

void OfflineRun::read_sys() {
    if (cfg_.sys_filter.empty()) {
        finish();
        return;
    }
    phase_ = Phase::Reading;
    sys_ = std::make_unique<SysReader>(&loop_);
    ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-sys", 0, false);
    sys_->start(
        *fleet_, o, cfg_.sys_filter, kSysReadMs, &res_.sys,
        [this, id = o.client_id](const CloseInfo& info) {
            if (phase_ != Phase::Closing) fail("connection " + id + " closed: " + (info.error.empty() ? "by server" : info.error));
        },
        [this](const std::string& error) {
            if (!error.empty())
                fail(error);
            else
                finish();
        });
}

void OfflineRun::on_closed(Phase expected, const Client& client, const CloseInfo& info) {
    if (phase_ == Phase::Closing) return;
    if (phase_ == expected && expected == Phase::Parking) {
        if (--open_ == 0) start_publishing();
        return;
    }
    if (phase_ == expected && expected == Phase::Cleaning) {
        if (--open_ == 0) after_clean();
        return;
    }
    fail("connection " + client.client_id() + " closed: " + (info.error.empty() ? "by server" : info.error));
}

void OfflineRun::finish() {
    if (phase_ == Phase::Closing) return;
    phase_ = Phase::Closing;
    if (handles_open_) {
        handles_open_ = false;
        if (sys_) sys_->close();
        uv_check_stop(&check_);
        uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
        for (uv_timer_t* t : {&tick_, &progress_timer_}) uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    }
    fleet_->close_all(2000, [] {});
}

void OfflineRun::fail(const std::string& error) {
    if (phase_ == Phase::Closing) return;
    if (res_.error.empty()) res_.error = error;
    if (phase_ == Phase::Publishing) res_.seconds = double(uv_hrtime() - t_start_) / double(kNsPerS);
    finish();
}

void OfflineRun::progress_line() {
    uint64_t now = uv_hrtime();
    double dt = double(now - last_line_ns_) / double(kNsPerS);
    if (dt <= 0) return;
    double ack_rate = double(res_.acked - last_acked_) / dt;
    double recv_rate = double(res_.flow.received - last_recv_) / dt;
    last_acked_ = res_.acked;
    last_recv_ = res_.flow.received;
    last_line_ns_ = now;
    char p99[32] = "-";
    if (res_.latency.count() > 0)
        std::snprintf(p99, sizeof(p99), "%.3f ms", double(res_.latency.percentile(0.99)) / double(kNsPerMs));
    std::fprintf(stderr, "offline %5.1fs %s  acked %.0f/s  PUBACK p99 %s  unacked %llu  drained %.0f/s  queued %llu\n",
                 double(now - t_start_) / double(kNsPerS), phase_ == Phase::Publishing ? "publishing" : "draining",
                 ack_rate, p99, (unsigned long long)(total_sent_ - total_done_), recv_rate,
                 (unsigned long long)(res_.acked * per_ > res_.flow.received ? res_.acked * per_ - res_.flow.received : 0));
}

}  // namespace

BenchResult run_offline(const BenchConfig& config) {
    OfflineRun run(config);
    return run.run();
}

}  // namespace herald::tools::bench
