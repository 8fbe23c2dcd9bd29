// Client transport, WebSocket layer (ConnectOptions::ws_path): the HTTP upgrade once TCP is
// connected, then every byte in is a frame payload fed to the Framer, and every flush is one
// masked binary frame holding all the packets of the loop turn (ws_frames.h has the rules).
#include "tools/client/client.h"

namespace herald::tools {

namespace {
constexpr std::string_view kProtocol = "mqtt";
}

void Client::start_ws_upgrade() {
    state_ = ClientState::Upgrading;
    ws_key_ = ws::make_key();
    ws_mask_state_ = ws::mask_seed();
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(options_.port);
    out_ = ws::upgrade_request(host, options_.ws_path, ws_key_, kProtocol);  // raw: not framed yet
    mark_dirty();
    // The keepalive timer also bounds the wait for the 101.
    arm_keepalive(options_.keep_alive);
}

void Client::on_ws_read(std::span<const uint8_t> bytes) {
    if (state_ == ClientState::Upgrading) {
        ws_answer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        const ws::UpgradeAnswer a = ws::check_upgrade_answer(ws_answer_, ws_key_, kProtocol);
        if (a.status == ws::UpgradeAnswer::Status::NeedMore) return;
        if (a.status == ws::UpgradeAnswer::Status::Refused) {
            fail(a.error);
            return;
        }
        ws_framing_ = true;
        send_connect();
        // Frames that came with the 101 (a server does not speak first in MQTT, but may ping).
        std::string rest = ws_answer_.substr(a.consumed);
        ws_answer_.clear();
        ws_answer_.shrink_to_fit();
        if (!rest.empty()) on_ws_read({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
        return;
    }
    while (!bytes.empty()) {
        ws::FramePart part;
        bytes = bytes.subspan(ws::next_part(ws_reader_, bytes, part));
        switch (part.kind) {
            case ws::FramePart::Kind::None: break;
            case ws::FramePart::Kind::Data: feed_frames(part.data); break;
            case ws::FramePart::Kind::Error: fail(std::string("WebSocket: ") + part.error); return;
            case ws::FramePart::Kind::Control:
                if (part.opcode == ws::kOpPing) {
                    ws::append_frame(ws::kOpPong,
                                     {reinterpret_cast<const char*>(part.data.data()), part.data.size()},
                                     ws::next_mask(ws_mask_state_), ws_control_);
                    mark_dirty();
                } else if (part.opcode == ws::kOpClose) {
                    on_peer_closed(UV_EOF);  // as if TCP ended: the same words and outcomes
                    return;
                }
                break;
        }
        if (state_ == ClientState::Closing || state_ == ClientState::Closed) return;
    }
}

void Client::ws_frame_output() {
    if (out_.empty() && ws_control_.empty()) return;
    std::string framed;
    framed.swap(ws_control_);  // pongs first
    if (!out_.empty()) ws::append_frame(ws::kOpBinary, out_, ws::next_mask(ws_mask_state_), framed);
    out_.swap(framed);
    framed.clear();
    ws_control_.swap(framed);  // keeps the capacity
}

}  // namespace herald::tools
