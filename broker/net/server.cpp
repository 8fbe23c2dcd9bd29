// The loop owner: start, tick, signals, graceful and forced shutdown (see server.h).
#include "broker/net/server.h"

#include <sys/resource.h>

#include <csignal>

#include <spdlog/spdlog.h>

#include "broker/core/broker.h"

namespace herald::net {

namespace {

constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};

void close_handle(uv_handle_t* handle) {
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace

Server::Server(uv_loop_t* loop, core::Broker& broker)
    : loop_(loop), broker_(broker), state_(loop, broker) {
    std::signal(SIGPIPE, SIG_IGN);
    uv_timer_init(loop_, &tick_);
    tick_.data = this;
    uv_timer_start(&tick_, &Server::on_tick, kTickMs, kTickMs);
    uv_timer_init(loop_, &precise_);
    precise_.data = this;
    uv_check_init(loop_, &check_);
    check_.data = this;
    uv_check_start(&check_, &Server::on_check);
    uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
    uv_timer_init(loop_, &shutdown_timer_);
    shutdown_timer_.data = this;
    for (size_t i = 0; i < 3; ++i) {
        uv_signal_init(loop_, &signals_[i]);
        signals_[i].data = this;
        uv_signal_start(&signals_[i], &Server::on_signal, kSignals[i]);
    }
    state_.on_idle([this] {
        if (stopping_ && live_connections() == 0) finish();
    });
}

Server::~Server() = default;

bool Server::listen(const std::vector<core::ListenerConfig>& listeners, std::string& error) {
    for (const core::ListenerConfig& config : listeners) {
        if (config.is_websocket()) {
            if (!ws_) {
                ws_ = std::make_unique<WsServer>(state_, broker_.connect_timeout_ms());
                ws_->on_idle([this] {
                    if (stopping_ && live_connections() == 0) finish();
                });
            }
            std::string name;
            if (!ws_->open(config, name, error)) return false;
            spdlog::info("listening on {}", name);
            continue;
        }
        if (config.type != "tcp" && config.type != "unix") {
            error = fmt::format("listener type {} is not served yet by this heraldd", config.type);
            return false;
        }
        auto listener = std::make_unique<Listener>(state_, config);
        const bool ok = listener->open(error);
        listeners_.push_back(std::move(listener));  // kept until run() ends, even if closed
        if (!ok) return false;
        spdlog::info("listening on {}", listeners_.back()->name());
    }
    return true;
}

void Server::run() {
    uv_run(loop_, UV_RUN_DEFAULT);
    if (ws_) ws_->finish();  // lws's second context destroy, once the loop has let go
}

void Server::on_tick(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    self->broker_.on_tick();
    self->state_.abort_stale_lingerers();
}

void Server::on_check(uv_check_t* check) {
    auto* self = static_cast<Server*>(check->data);
    const std::optional<uint64_t> due = self->broker_.next_precise_deadline_ms();
    if (!due || (self->precise_at_ != 0 && self->precise_at_ <= *due)) return;
    const uint64_t now = uv_now(self->loop_);
    self->precise_at_ = *due;
    uv_timer_start(&self->precise_, &Server::on_precise, *due > now ? *due - now : 0, 0);
}

void Server::on_precise(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    self->precise_at_ = 0;
    self->broker_.on_tick();
}

void Server::on_signal(uv_signal_t* signal, int number) {
    auto* self = static_cast<Server*>(signal->data);
    if (number == SIGHUP) {
        spdlog::info("SIGHUP: reloading the configuration");
        if (self->reload_) self->reload_();
        if (self->ws_) self->ws_->reload_certificates();
        return;
    }
    spdlog::info("{}: shutting down", number == SIGINT ? "SIGINT" : "SIGTERM");
    self->stop();
}

void Server::stop() {
    if (stopping_) {
        force_close();
        return;
    }
    stopping_ = true;
    for (auto& listener : listeners_) listener->close();
    if (ws_) ws_->stop_accepting();
    uv_timer_stop(&tick_);
    close_handle(reinterpret_cast<uv_handle_t*>(&tick_));
    uv_timer_stop(&precise_);
    close_handle(reinterpret_cast<uv_handle_t*>(&precise_));
    uv_check_stop(&check_);
    close_handle(reinterpret_cast<uv_handle_t*>(&check_));
    const size_t live = live_connections();
    if (live > 0) spdlog::info("closing {} connection(s)", live);
    // 5.0 clients get DISCONNECT 0x8B; every connection is closed after its last bytes.
    broker_.shutdown();
    if (live_connections() == 0) {
        finish();
        return;
    }
    uv_timer_start(&shutdown_timer_, &Server::on_shutdown_timeout, kShutdownCapMs, 0);
}

void Server::on_shutdown_timeout(uv_timer_t* timer) {
    static_cast<Server*>(timer->data)->force_close();
}

void Server::force_close() {
    const size_t count = state_.abort_all() + (ws_ ? ws_->abort_all() : 0);
    if (count > 0) spdlog::warn("closing {} connection(s) by force", count);
}

// Every connection is gone: close our own handles so that uv_run returns.
void Server::finish() {
    if (finished_) return;
    finished_ = true;
    state_.close();
    if (ws_) ws_->shutdown();
    uv_timer_stop(&shutdown_timer_);
    close_handle(reinterpret_cast<uv_handle_t*>(&shutdown_timer_));
    for (uv_signal_t& signal : signals_) close_handle(reinterpret_cast<uv_handle_t*>(&signal));
}

uint64_t raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    return static_cast<uint64_t>(limit.rlim_cur);
}

bool close_loop(uv_loop_t* loop) {
    const int result = uv_loop_close(loop);
    if (result == 0) return true;
    spdlog::error("event loop closed with handles still open: {}", uv_strerror(result));
    uv_walk(
        loop,
        [](uv_handle_t* handle, void*) {
            spdlog::error("  open handle: {} (closing: {})", uv_handle_type_name(handle->type),
                          uv_is_closing(handle) != 0);
        },
        nullptr);
    return false;
}

}  // namespace herald::net
