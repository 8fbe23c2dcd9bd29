// Fleet: bounded parallel connects and the closing of every client at the end of a run.
#include "tools/bench/fleet.h"

namespace herald::tools::bench {

ConnectOptions client_options(const BenchConfig& config, const std::string& id, size_t index, bool spread) {
    ConnectOptions o;
    o.host = config.address;  // numeric: the client connects without a resolver round trip
    o.port = config.port;
    o.ws_path = config.ws_path;
    o.version = config.version;
    o.client_id = id;
    o.keep_alive = 60;
    if (spread && !config.ipv6) o.bind_address = "127.0.0." + std::to_string(2 + index % 250);
    // The bench's receivers read as fast as the loop turns: allow the largest inbound window.
    if (config.version == mqtt::ProtocolVersion::V5) o.props.receive_maximum = 65535;
    return o;
}

Fleet::~Fleet() {
    if (close_timer_ != nullptr) {
        uv_timer_stop(close_timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(close_timer_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    }
}

Client* Fleet::add(ConnectOptions options) {
    clients_.push_back(std::make_unique<Client>(client_loop_, std::move(options)));
    return clients_.back().get();
}

void Fleet::connect_all(size_t parallel, std::function<void(Client&, const ConnectResult&)> each,
                        std::function<void(const std::string& error)> done) {
    parallel_ = parallel > 0 ? parallel : 1;
    each_ = std::move(each);
    done_ = std::move(done);
    failed_ = false;
    pump();
}

void Fleet::pump() {
    while (!failed_ && active_ < parallel_ && next_ < clients_.size()) {
        Client* c = clients_[next_++].get();
        ++active_;
        c->on_connect = [this, c](const ConnectResult& r) { on_connect_result(*c, r); };
        c->connect();  // may answer at once (a bad address): on_connect_result runs inside
    }
    if (!failed_ && active_ == 0 && next_ == clients_.size() && done_) {
        auto done = std::move(done_);
        done_ = nullptr;
        done("");
    }
}

void Fleet::on_connect_result(Client& client, const ConnectResult& result) {
    --active_;
    if (each_) each_(client, result);
    if (!result.ok && !failed_) {
        failed_ = true;
        if (done_) {
            auto done = std::move(done_);
            done_ = nullptr;
            done(result.error.empty() ? "connection failed" : result.error);
        }
        return;
    }
    pump();
}

size_t Fleet::open_count() const {
    size_t n = 0;
    for (const auto& c : clients_)
        if (c->state() != ClientState::Closed && c->state() != ClientState::Idle) ++n;
    return n;
}

void Fleet::close_all(uint64_t grace_ms, std::function<void()> done) {
    failed_ = true;  // no more connects
    for (auto& c : clients_) {
        ClientState s = c->state();
        if (s == ClientState::Connected || s == ClientState::AwaitConnack)
            c->disconnect();
        else if (s == ClientState::Resolving || s == ClientState::Connecting)
            c->close("run over");
    }
    closed_ = std::move(done);
    if (close_timer_ == nullptr) {
        close_timer_ = new uv_timer_t;
        uv_timer_init(loop_, close_timer_);
        close_timer_->data = this;
    }
    // Polled: a few milliseconds of delay at the very end of a run cost nothing.
    close_deadline_ms_ = uv_now(loop_) + grace_ms;
    uv_timer_start(
        close_timer_,
        [](uv_timer_t* t) {
            auto* self = static_cast<Fleet*>(t->data);
            if (uv_now(self->loop_) >= self->close_deadline_ms_)
                for (auto& c : self->clients_) c->close("no answer to DISCONNECT");
            if (self->open_count() == 0) {
                uv_timer_stop(t);
                if (self->closed_) {
                    auto d = std::move(self->closed_);
                    self->closed_ = nullptr;
                    d();
                }
            }
        },
        5, 5);
}

}  // namespace herald::tools::bench
