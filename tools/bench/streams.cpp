// The `streams` scenario: direct messages for users who are away, as a chat app sends them
// (SPEC 5). U users each have one device (user hb-RUN-u<i>, client id hb-RUN-d<i>) that opens a
// persistent session (5.0: Session Expiry Interval 3600 s; 3.1.1: clean session 0), subscribes
// to users/<me>/# at QoS 1 and leaves. P publishers, each a user of its own (hb-RUN-p<j>), then
// send N messages to users/<u>/<p>, round robin over the users, closed loop within their
// inflight window: PUBACKs per second is how fast a broker appends to the users' streams (heraldd
// acknowledges after its commit) or queues for their sessions (a plain MQTT broker).
//
// Then the devices come back one at a time, each alone on the broker, and the bench times how
// long each takes to receive (and acknowledge) everything that waited for it: from its CONNECT
// (resuming its session) or, with --resubscribe, from the SUBSCRIBE of a clean session — heraldd
// replays a stream from the device's cursor on SUBSCRIBE; a plain MQTT broker needs the session.
// Every acknowledged message must arrive once, in order per (publisher, user).
//
// With --pid the broker's VmRSS is read before the load, once the messages are queued and once
// they are drained (a broker that keeps them in a store should not grow with them); with
// --data-dir, the size of herald.db and herald.db-wal before and after they were queued.
//
// The pieces shared with the other scenarios (Fleet, the payload header, StreamState) are in
// fleet.h and payload.h; this file holds only the sequence of this one.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "tools/bench/fleet.h"
#include "tools/bench/payload.h"

namespace herald::tools::bench {

// Its own namespace: the unity build compiles this file with offline.cpp, whose file-local
// names (Publisher, Phase, kStallNs...) are the same.
namespace streams_scenario {
namespace {

constexpr uint64_t kStallNs = 5 * kNsPerS;  // no PUBACK for this long with publishes out: give up
constexpr uint64_t kQuietNs = 5 * kNsPerS;  // a device got nothing for this long: give up on it
constexpr uint32_t kSessionExpiry = 3600;

enum class Phase : uint8_t { Connecting, Parking, Publishing, Replaying, Cleaning, Closing };

struct Publisher {
    Client* client = nullptr;
    uint64_t sent = 0, done = 0, limit = 0;
    std::vector<uint64_t> send_ns;  // ring of kRing: send time of publish k at k % kRing
};

struct Device {
    std::string user;
    Client* first = nullptr;  // before it goes away
    Client* again = nullptr;  // as it comes back
    uint64_t expected = 0, received = 0;
    std::vector<StreamState> streams;  // indexed by publisher
};

long long file_size(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? (long long)st.st_size : 0;
}

class StreamsRun {
public:
    explicit StreamsRun(const BenchConfig& config) : cfg_(config) {}
    BenchResult run();

private:
    ConnectOptions device_options(size_t i, bool again) const;
    void subscribe_all();
    bool suback_ok(const std::string& filter, const std::vector<mqtt::ReasonCode>& reasons);
    void start_publishing();
    void pump();
    void on_done(Publisher& p, mqtt::ReasonCode reason);
    void end_publishing();
    void next_device();
    void on_device_ready(Device& d, const ConnectResult& r);
    void on_message(Device& d, const mqtt::Publish& m);
    void device_done(uint64_t now);
    void clean();
    void measure(long& rss_kb, long long* db, long long* wal) const;
    void finish();
    void fail(const std::string& error);

    const BenchConfig& cfg_;
    uv_loop_t loop_;
    std::unique_ptr<Fleet> fleet_;
    uv_check_t check_;
    uv_timer_t tick_;
    bool handles_open_ = false, v5_ = true;
    bool waiting_ = false;  // the current device has not had all its messages yet
    Phase phase_ = Phase::Connecting;

    std::vector<Publisher> pubs_;
    std::vector<Device> devs_;
    std::vector<std::string> topics_;  // users/<u>/<p> at u * P + p
    std::vector<uint32_t> pair_seq_;   // next seq per (user, publisher), same index
    std::string payload_;
    size_t next_user_ = 0, rr_ = 0, open_ = 0, subacks_ = 0, current_ = 0;
    uint64_t total_sent_ = 0, total_done_ = 0;
    uint64_t t_start_ = 0, t_last_ack_ = 0, t_connect_ = 0, t_sub_ = 0, t_last_msg_ = 0;
    uint64_t foreign_ = 0, early_ = 0, not_success_ = 0, gave_up_ = 0;
    BenchResult res_;
};

ConnectOptions StreamsRun::device_options(size_t i, bool again) const {
    ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-d" + std::to_string(i), i, false);
    o.username = devs_[i].user;
    if (again && cfg_.resubscribe) {
        o.clean_start = true;  // a clean session: what waits comes from the stream, on SUBSCRIBE
    } else if (v5_) {
        o.clean_start = !again;
        o.props.session_expiry_interval = kSessionExpiry;
    } else {
        o.clean_start = false;
    }
    return o;
}

BenchResult StreamsRun::run() {
    res_.scenario = "streams";
    v5_ = cfg_.version == mqtt::ProtocolVersion::V5;
    uv_loop_init(&loop_);
    fleet_ = std::make_unique<Fleet>(&loop_);
    payload_.assign(std::max(cfg_.size, kHeaderSize), 'x');

    size_t np = size_t(cfg_.publishers > 0 ? cfg_.publishers : 8);
    size_t nu = size_t(cfg_.users > 0 ? cfg_.users : 10);
    res_.publishers = int(np);
    res_.users = int(nu);
    uint64_t count = cfg_.count > 0 ? cfg_.count : 10000 * uint64_t(nu);
    for (size_t u = 0; u < nu; ++u) {
        devs_.push_back(Device{"hb-" + cfg_.run_id + "-u" + std::to_string(u), nullptr, nullptr, 0, 0,
                               std::vector<StreamState>(np)});
        Client* c = fleet_->add(device_options(u, false));
        devs_[u].first = c;
        c->on_message = [this](const mqtt::Publish&, std::string_view) { ++early_; };
        c->on_close = [this, c](const CloseInfo& info) {
            if (phase_ == Phase::Parking && --open_ == 0) start_publishing();
            else if (phase_ != Phase::Parking && phase_ != Phase::Closing)
                fail("device " + c->client_id() + " closed: " + (info.error.empty() ? "by server" : info.error));
        };
    }
    pubs_.resize(np);
    for (size_t p = 0; p < np; ++p) {
        Publisher& pub = pubs_[p];
        ConnectOptions o = client_options(cfg_, "hb-" + cfg_.run_id + "-p" + std::to_string(p), p, false);
        o.username = "hb-" + cfg_.run_id + "-p" + std::to_string(p);  // users/<to>/<from>: from is the sender
        pub.client = fleet_->add(std::move(o));
        pub.limit = count / np + (p < count % np ? 1 : 0);
        pub.send_ns.assign(kRing, 0);
        Publisher* pp = &pub;
        pub.client->on_publish_done = [this, pp](uint16_t, mqtt::ReasonCode r) { on_done(*pp, r); };
        pub.client->on_close = [this, pp](const CloseInfo& info) {
            if (phase_ != Phase::Closing)
                fail("publisher " + pp->client->client_id() + " closed: " + (info.error.empty() ? "by server" : info.error));
        };
    }
    for (size_t u = 0; u < nu; ++u)
        for (size_t p = 0; p < np; ++p) topics_.push_back("users/" + devs_[u].user + "/" + *pubs_[p].client->options().username);
    pair_seq_.assign(nu * np, 0);

    uv_check_init(&loop_, &check_);
    check_.data = this;
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    handles_open_ = true;

    fleet_->connect_all(200, nullptr, [this](const std::string& error) {
        if (!error.empty())
            fail("cannot connect to " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + error);
        else
            subscribe_all();
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    fleet_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);

    res_.published = res_.flow.sent = total_sent_;
    res_.flow.expected = res_.acked;
    res_.delivered = res_.flow.received;
    if (gave_up_ > 0)
        res_.notes.push_back(std::to_string(gave_up_) + " device(s) got nothing for 5 s before all their messages had arrived");
    if (early_ > 0) res_.notes.push_back(std::to_string(early_) + " messages reached a device before it left");
    if (not_success_ > 0)
        res_.notes.push_back(std::to_string(not_success_) + " PUBACKs said No matching subscribers: nothing was kept for them");
    if (foreign_ > 0) res_.notes.push_back(std::to_string(foreign_) + " messages were not the bench's");
    return res_;
}

void StreamsRun::subscribe_all() {
    for (auto& d : devs_) {
        mqtt::Subscription sub;
        sub.filter = "users/" + d.user + "/#";
        sub.options.qos = cfg_.qos;
        d.first->subscribe({sub}, [this, f = sub.filter](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            if (!suback_ok(f, reasons)) return;
            if (++subacks_ < devs_.size()) return;
            // Every device has subscribed: the users go away; the load starts once all are gone.
            phase_ = Phase::Parking;
            open_ = devs_.size();
            for (auto& dev : devs_) dev.first->disconnect();
        });
    }
}

bool StreamsRun::suback_ok(const std::string& filter, const std::vector<mqtt::ReasonCode>& reasons) {
    if (!reasons.empty() && !mqtt::is_error(reasons[0])) return true;
    fail("subscription to " + filter + " refused" + (reasons.empty() ? "" : ": " + std::string(mqtt::reason_name(reasons[0]))));
    return false;
}

void StreamsRun::measure(long& rss_kb, long long* db, long long* wal) const {
    if (cfg_.broker_pid > 0) rss_kb = read_rss_kb(cfg_.broker_pid);
    if (db != nullptr && !cfg_.data_dir.empty()) {
        *db = file_size(cfg_.data_dir + "/herald.db");
        *wal = file_size(cfg_.data_dir + "/herald.db-wal");
    }
}

void StreamsRun::start_publishing() {
    measure(res_.rss_before_kb, &res_.db_before, &res_.wal_before);
    phase_ = Phase::Publishing;
    t_start_ = t_last_ack_ = uv_hrtime();
    uv_check_start(&check_, [](uv_check_t* h) { static_cast<StreamsRun*>(h->data)->pump(); });
    uv_timer_start(&tick_, [](uv_timer_t* t) { static_cast<StreamsRun*>(t->data)->pump(); }, 20, 20);
    pump();
}

void StreamsRun::pump() {
    uint64_t now = uv_hrtime();
    if (phase_ == Phase::Replaying) {
        if (waiting_ && now - std::max(t_last_msg_, t_connect_) > kQuietNs) {
            ++gave_up_;
            device_done(now);
        }
        return;
    }
    if (phase_ != Phase::Publishing) return;
    for (size_t i = 0; i < pubs_.size() && phase_ == Phase::Publishing; ++i) {
        Publisher& p = pubs_[(rr_ + i) % pubs_.size()];
        size_t max = v5_ ? p.client->server_receive_maximum() : cfg_.inflight;
        uint64_t inflight = p.sent - p.done;
        if (p.sent >= p.limit || inflight >= max) continue;
        uint64_t n = std::min<uint64_t>({p.limit - p.sent, max - inflight, kMaxBatch});
        size_t src = size_t(&p - pubs_.data());
        for (uint64_t k = 0; k < n; ++k) {
            size_t u = next_user_;
            next_user_ = next_user_ + 1 == devs_.size() ? 0 : next_user_ + 1;
            size_t pair = u * pubs_.size() + src;
            write_header(payload_.data(), PayloadHeader{uint32_t(src), pair_seq_[pair]++, now});
            PublishStatus s = p.client->publish(topics_[pair], payload_, cfg_.qos, false);
            if (s == PublishStatus::NotConnected || s == PublishStatus::Invalid) {
                fail("publish on " + topics_[pair] + " refused by the client");
                return;
            }
            ++devs_[u].expected;  // every publish must be acknowledged, so must arrive
            p.send_ns[p.sent % kRing] = now;
            ++p.sent;
            ++total_sent_;
        }
    }
    ++rr_;
    bool all_sent = std::all_of(pubs_.begin(), pubs_.end(), [](const Publisher& p) { return p.sent >= p.limit; });
    if (all_sent && total_done_ == total_sent_) {
        end_publishing();
    } else if (total_done_ < total_sent_ && now - t_last_ack_ > kStallNs) {
        fail("no PUBACK for 5 s with " + std::to_string(total_sent_ - total_done_) + " publishes unacknowledged");
    }
}

void StreamsRun::on_done(Publisher& p, mqtt::ReasonCode reason) {
    if (mqtt::is_error(reason)) {
        // 0x97 Quota exceeded: the broker's per-user limit (heraldd streams.max_pending) is
        // below what the run queues for one user.
        fail("publish refused: " + std::string(mqtt::reason_name(reason)));
        return;
    }
    if (reason == mqtt::ReasonCode::NoMatchingSubscribers) ++not_success_;
    if (p.done >= p.sent) return;
    uint64_t now = uv_hrtime();
    res_.latency.record(now - p.send_ns[p.done % kRing]);
    ++p.done;
    ++total_done_;
    ++res_.acked;
    t_last_ack_ = now;
}

void StreamsRun::end_publishing() {
    res_.seconds = double(t_last_ack_ - t_start_) / double(kNsPerS);
    uv_check_stop(&check_);
    measure(res_.rss_after_kb, &res_.db_after, &res_.wal_after);
    phase_ = Phase::Replaying;
    current_ = 0;
    next_device();
}

// One device at a time, alone: its replay time is its own, not shared with the others'.
void StreamsRun::next_device() {
    if (current_ == devs_.size()) {
        clean();
        return;
    }
    Device* d = &devs_[current_];
    Client* c = fleet_->add(device_options(current_, true));
    d->again = c;
    c->on_message = [this, d](const mqtt::Publish& m, std::string_view) { on_message(*d, m); };
    c->on_close = [this, c](const CloseInfo& info) {
        if (phase_ == Phase::Replaying && c == devs_[current_].again && !waiting_) {
            ++current_;
            next_device();
        } else if (phase_ != Phase::Closing && phase_ != Phase::Cleaning) {
            fail("device " + c->client_id() + " closed: " + (info.error.empty() ? "by server" : info.error));
        }
    };
    t_connect_ = t_last_msg_ = uv_hrtime();
    t_sub_ = 0;
    waiting_ = true;
    fleet_->connect_all(1, [this, d](Client&, const ConnectResult& r) { on_device_ready(*d, r); },
                        [this](const std::string& error) {
                            if (!error.empty()) fail("reconnecting a device: " + error);
                        });
}

void StreamsRun::on_device_ready(Device& d, const ConnectResult& r) {
    if (!r.ok) return;  // connect_all's done says why
    if (r.connack != nullptr && r.connack->session_present) ++res_.sessions_kept;
    if (!cfg_.resubscribe) {
        if (d.received >= d.expected) device_done(uv_hrtime());  // nothing waited (or all came first)
        return;
    }
    mqtt::Subscription sub;
    sub.filter = "users/" + d.user + "/#";
    sub.options.qos = cfg_.qos;
    t_sub_ = uv_hrtime();
    d.again->subscribe({sub}, [this, f = sub.filter](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
        suback_ok(f, reasons);
    });
    if (d.expected == 0) device_done(uv_hrtime());
}

void StreamsRun::on_message(Device& d, const mqtt::Publish& m) {
    PayloadHeader h;
    if (!m.payload || !read_header(*m.payload, h) || h.source >= d.streams.size()) {
        ++foreign_;
        return;
    }
    StreamState::Kind kind = d.streams[h.source].accept(h.seq);
    if (kind == StreamState::Kind::Duplicate) {
        ++res_.flow.duplicates;
        return;
    }
    if (kind == StreamState::Kind::Late) ++res_.flow.reordered;
    ++res_.flow.received;
    ++d.received;
    t_last_msg_ = uv_hrtime();
    // The client acknowledges a QoS 1 message as it hands it over: the last one is acked now.
    if (d.received == d.expected && waiting_ && phase_ == Phase::Replaying && &d == &devs_[current_])
        device_done(t_last_msg_);
}

void StreamsRun::device_done(uint64_t now) {
    if (!waiting_) return;
    waiting_ = false;
    Device& d = devs_[current_];
    res_.replay_s.push_back(double(now - t_connect_) / double(kNsPerS));
    if (t_sub_ > 0) res_.replay_from_sub_s.push_back(double(now - t_sub_) / double(kNsPerS));
    if (d.received < d.expected) d.expected = d.received;  // given up: counted as lost at the end
    // 5.0: the session goes with the connection; 3.1.1 sessions are removed in clean().
    mqtt::Properties props;
    props.session_expiry_interval = 0;
    if (d.again->state() == ClientState::Connected)
        d.again->disconnect(mqtt::ReasonCode::Success, v5_ ? &props : nullptr);
    else
        d.again->close("given up");
}

void StreamsRun::clean() {
    measure(res_.rss_drained_kb, nullptr, nullptr);
    uv_timer_stop(&tick_);
    phase_ = Phase::Cleaning;
    if (v5_ || cfg_.resubscribe) {
        finish();
        return;
    }
    for (size_t i = 0; i < devs_.size(); ++i) {
        ConnectOptions o = device_options(i, true);
        o.clean_start = true;
        fleet_->add(std::move(o));
    }
    fleet_->connect_all(200, nullptr, [this](const std::string& error) {
        if (!error.empty()) fail("removing the sessions: " + error);
        else finish();  // the clean-session clients are disconnected with the rest
    });
}

void StreamsRun::finish() {
    if (phase_ == Phase::Closing) return;
    phase_ = Phase::Closing;
    if (handles_open_) {
        handles_open_ = false;
        uv_check_stop(&check_);
        uv_timer_stop(&tick_);
        uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    }
    fleet_->close_all(2000, [] {});
}

void StreamsRun::fail(const std::string& error) {
    if (phase_ == Phase::Closing) return;
    if (res_.error.empty()) res_.error = error;
    if (phase_ == Phase::Publishing) res_.seconds = double(uv_hrtime() - t_start_) / double(kNsPerS);
    finish();
}

}  // namespace
}  // namespace streams_scenario

BenchResult run_streams(const BenchConfig& config) {
    streams_scenario::StreamsRun run(config);
    return run.run();
}

}  // namespace herald::tools::bench
