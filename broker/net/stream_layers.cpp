// StreamConnection's optional layers (stream_layers.h): the PROXY header on the way in, TLS
// both ways. Each failure is one log line naming the peer, and a close; others are not
// affected.
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cstring>

#include "broker/net/loop_state.h"
#include "broker/net/proxy_protocol.h"
#include "broker/net/stream_connection.h"
#include "broker/net/stream_layers.h"
#include "broker/net/tls_context.h"

namespace herald::net {

bool StreamConnection::add_layers(const TlsContext* tls, bool proxy_protocol) {
    layers_ = std::make_unique<StreamLayers>();
    layers_->awaiting_proxy = proxy_protocol;
    if (tls != nullptr) {
        layers_->tls = TlsSession::create(tls->get());
        if (!layers_->tls) return false;
        layers_->use_identity = tls->config().use_identity_as_username;
    }
    return true;
}

void StreamConnection::read_layered(const uint8_t* data, size_t size) {
    StreamLayers& layers = *layers_;
    std::string joined;  // a PROXY header that came in pieces, with what followed it
    if (layers.awaiting_proxy && !read_proxy_header(data, size, joined)) return;
    if (size == 0) return;
    if (layers.tls) read_tls(data, size);
    else read_frames(data, size);
}

// True when the header is complete: `data` and `size` are then what follows it (held in
// `joined` if the header came in pieces). False: wait for more, or the connection is closing.
bool StreamConnection::read_proxy_header(const uint8_t*& data, size_t& size, std::string& joined) {
    StreamLayers& layers = *layers_;
    if (!layers.proxy_partial.empty()) {
        joined = std::move(layers.proxy_partial);
        layers.proxy_partial.clear();
        joined.append(reinterpret_cast<const char*>(data), size);
        data = reinterpret_cast<const uint8_t*>(joined.data());
        size = joined.size();
    }
    const proxy::Result header = proxy::parse(std::span<const uint8_t>(data, size));
    if (header.status == proxy::Status::Incomplete) {
        layers.proxy_partial.assign(reinterpret_cast<const char*>(data), size);
        return false;
    }
    layers.awaiting_proxy = false;
    if (header.status == proxy::Status::Invalid) {
        spdlog::info("{}: bad PROXY protocol header ({}), closing", peer(), header.error);
        abort();
        return false;
    }
    if (header.source) {
        const std::string proxy_address = peer();
        const proxy::Address& source = *header.source;
        std::memcpy(peer_address_, source.bytes, sizeof(peer_address_));
        peer_port_ = source.port;
        peer_family_ = static_cast<uint8_t>(source.family);
        spdlog::debug("{}: PROXY header names the client {}", proxy_address, peer());
    }
    data += header.length;
    size -= header.length;
    return true;
}

void StreamConnection::read_tls(const uint8_t* data, size_t size) {
    StreamLayers& layers = *layers_;
    TlsSession& tls = *layers.tls;
    tls.receive(data, size);
    if (!tls.established()) {
        const TlsSession::Step step = tls.handshake();
        if (tls.wire_pending() > 0 && !in_dirty_) mark_dirty();
        if (step == TlsSession::Step::Failed) {
            spdlog::info("{}: TLS handshake failed: {}, closing", peer(), tls.error());
            close();  // sends the alert OpenSSL queued
            return;
        }
        if (step == TlsSession::Step::More) return;
        if (layers.use_identity) {
            layers.identity = peer_common_name(tls.ssl());
            if (layers.identity.empty()) {
                spdlog::info("{}: the client certificate has no common name (CN) to use as the "
                             "username, closing", peer());
                close();
                return;
            }
        }
        spdlog::debug("{}: TLS handshake done ({}, {}{}{})", peer(), SSL_get_version(tls.ssl()),
                      SSL_get_cipher_name(tls.ssl()), layers.identity.empty() ? "" : ", CN ",
                      layers.identity);
    }
    // The plaintext goes through the loop's read buffer (the ciphertext is already copied
    // into the session), then through the Framer as on plain TCP.
    LoopState& loop = this->loop();
    while (!closing_) {
        const uv_buf_t buffer = loop.read_buffer();
        const long n = tls.read_plain(buffer.base, buffer.len);
        if (n > 0) {
            read_frames(reinterpret_cast<const uint8_t*>(buffer.base), static_cast<size_t>(n));
            continue;
        }
        if (n == -1) {
            spdlog::debug("{}: the client closed its TLS session", peer());
            close();
        } else if (n == -2) {
            spdlog::info("{}: TLS error: {}, closing", peer(), tls.error());
            abort();
        }
        break;
    }
    // Reading may have queued records of its own (a key update, session tickets).
    if (!aborted_ && tls.wire_pending() > 0 && !in_dirty_) mark_dirty();
}

// In the flush: the turn's plaintext becomes TLS records, after whatever the handshake queued;
// a closing connection adds its close_notify.
void StreamConnection::seal_output() {
    TlsSession& tls = *layers_->tls;
    if (output_ && !output_->empty()) {
        if (!tls.write_plain(*output_))
            spdlog::debug("{}: {} bytes not sent: the TLS session is not open", peer(), output_->size());
        output_->clear();
    }
    if (closing_) tls.shutdown();
    if (tls.wire_pending() == 0) return;
    if (!output_) output_ = loop().take_buffer();
    tls.take_wire(*output_);
}

// Closed by the broker (connect timeout, shutdown) before the layers were through.
void StreamConnection::log_unfinished_layers() {
    if (layers_->awaiting_proxy) {
        spdlog::info("{}: no PROXY protocol header received, closing", peer());
    } else if (layers_->tls && !layers_->tls->established() && layers_->tls->error().empty()) {
        spdlog::info("{}: TLS handshake not finished, closing", peer());
    }
}

}  // namespace herald::net
