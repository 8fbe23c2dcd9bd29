// SysReader: one client that collects a broker's retained statistics for a while.
#include "tools/bench/sys_reader.h"

namespace herald::tools::bench {

SysReader::SysReader(uv_loop_t* loop) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
}

SysReader::~SysReader() { close(); }

void SysReader::close() {
    if (!open_) return;
    open_ = false;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void SysReader::start(Fleet& fleet, const ConnectOptions& options, const std::string& filter, uint64_t collect_ms,
                      Values* out, std::function<void(const CloseInfo&)> on_close,
                      std::function<void(const std::string&)> done) {
    collect_ms_ = collect_ms;
    done_ = std::move(done);
    Client* c = fleet.add(options);
    c->on_close = std::move(on_close);
    c->on_message = [out](const mqtt::Publish& m, std::string_view topic) {
        std::string value = m.payload ? std::string(*m.payload) : std::string();
        for (auto& kv : *out)
            if (kv.first == topic) {
                kv.second = std::move(value);
                return;
            }
        out->emplace_back(std::string(topic), std::move(value));
    };
    fleet.connect_all(1, nullptr, [this, c, filter](const std::string& error) {
        if (!error.empty()) {
            if (done_) done_("reading " + filter + ": " + error);
            return;
        }
        mqtt::Subscription sub;
        sub.filter = filter;
        c->subscribe({sub}, [this](uint16_t, const std::vector<mqtt::ReasonCode>&) {
            if (!open_) return;
            uv_timer_start(
                &timer_,
                [](uv_timer_t* t) {
                    auto* self = static_cast<SysReader*>(t->data);
                    if (self->done_) self->done_("");
                },
                collect_ms_, 0);
        });
    });
}

}  // namespace herald::tools::bench
