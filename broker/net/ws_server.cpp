// libwebsockets on our uv loop: the vhosts of the ws/wss listeners, the checks of an upgrade,
// HTTP answers, and the dispatch of lws events to WsConnections (see ws_server.h).
#include "broker/net/ws_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include <libwebsockets.h>
#include <spdlog/spdlog.h>

#include "broker/core/broker.h"
#include "broker/net/http_files.h"
#include "broker/net/loop_state.h"
#include "broker/net/metrics.h"
#include "broker/net/ws_connection.h"
#include "broker/net/tls_context.h"

namespace herald::net {

namespace {

constexpr size_t kRxBufferSize = 64 * 1024;  // a larger frame comes in several RECEIVEs
constexpr size_t kMaxStaticFile = 64 * 1024 * 1024;
constexpr size_t kHttpChunk = 16 * 1024;
constexpr const char* kMqttPath = "/mqtt";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len);

// protocols[0] serves HTTP (and every connection before its upgrade); the two MQTT names are
// the subprotocols a client may ask for.
lws_protocols kProtocols[] = {
    {"http", lws_callback, 0, 0, 0, nullptr, 0},
    {"mqtt", lws_callback, 0, kRxBufferSize, 0, nullptr, 0},
    {"mqttv3.1", lws_callback, 0, kRxBufferSize, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void lws_log_line(int level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (level & LLL_ERR) spdlog::warn("libwebsockets: {}", text);
    else spdlog::debug("libwebsockets: {}", text);
}

std::string header(struct lws* wsi, enum lws_token_indexes token) {
    const int length = lws_hdr_total_length(wsi, token);
    if (length <= 0) return {};
    std::string value(static_cast<size_t>(length) + 1, '\0');
    const int copied = lws_hdr_copy(wsi, value.data(), length + 1, token);
    value.resize(copied > 0 ? static_cast<size_t>(copied) : 0);
    return value;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "mqtt, foo" -> true when any of the offered subprotocols is one we speak.
bool offers_mqtt(std::string_view offered) {
    while (!offered.empty()) {
        const size_t comma = offered.find(',');
        const std::string_view name = trim(offered.substr(0, comma));
        if (name == "mqtt" || name == "mqttv3.1") return true;
        if (comma == std::string_view::npos) break;
        offered.remove_prefix(comma + 1);
    }
    return false;
}

// "127.0.0.1:50123" or "[::1]:50123", as TCP connections name their peer in logs.
std::string peer_name(const sockaddr_storage& address) {
    char host[INET6_ADDRSTRLEN] = {0};
    if (address.ss_family == AF_INET) {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        return fmt::format("{}:{}", host, ntohs(in4->sin_port));
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {  // lws listens on IPv6 sockets
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
        return fmt::format("{}:{}", host, ntohs(in6->sin6_port));
    }
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
}

std::string peer_name(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
    return peer_name(address);
}

// Why binding address:port fails ("Address already in use"), found by binding a socket of our
// own the way lws does (SO_REUSEADDR); empty when it would work.
std::string bind_problem(const std::string& address, uint16_t port) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 ||
        found == nullptr)
        return "not an IP address";
    std::string why;
    const int fd = socket(found->ai_family, SOCK_STREAM, 0);
    const int one = 1;
    if (fd < 0) {
        why = std::strerror(errno);
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) why = std::strerror(errno);
        close(fd);
    }
    freeaddrinfo(found);
    return why;
}

// Header values go into log lines: keep them short and printable.
std::string loggable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

}  // namespace

struct WsServer::Listener {
    core::ListenerConfig config;
    std::string name;  // "ws 127.0.0.1:8080"
    struct lws_vhost* vhost = nullptr;
    std::unique_ptr<TlsContext> tls;  // wss: set up on the vhost's SSL_CTX, kept for reloads
    std::string tls_error;            // why the SSL_CTX could not be set up (open() says it)
};

struct WsServer::Session {
    Listener* listener = nullptr;
    std::string peer;
    WsConnection* connection = nullptr;
    std::string http_body;  // the answer being written, and how much of it is out
    size_t http_sent = 0;
    bool requested = false;  // a complete HTTP request (or upgrade) was read
    bool tls_done = false;   // wss: the TLS handshake completed
    bool timed_out = false;
};

namespace {

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len) {
    return WsServer::dispatch(wsi, static_cast<int>(reason), user, in, len);
}

}  // namespace

WsServer::WsServer(LoopState& loop, uint32_t connect_timeout_ms)
    : loop_(loop), connect_timeout_ms_(connect_timeout_ms) {}

WsServer::~WsServer() {
    finish();
    for (WsConnection* connection : connections_) delete connection;
}

int WsServer::dispatch(struct lws* wsi, int reason, void* user, void* in, size_t len) {
    auto* self = static_cast<WsServer*>(lws_context_user(lws_get_context(wsi)));
    if (self == nullptr) return 0;
    try {
        return self->on_event(wsi, reason, user, in, len);
    } catch (const std::exception& e) {  // never across libwebsockets
        spdlog::error("WebSocket event {} failed: {}", reason, e.what());
    } catch (...) {
        spdlog::error("WebSocket event {} failed", reason);
    }
    return -1;
}

bool WsServer::create_context(std::string& error) {
    lws_set_log_level(LLL_ERR | LLL_WARN, &lws_log_line);
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    foreign_loop_ = loop_.loop();
    info.foreign_loops = &foreign_loop_;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = this;
    info.count_threads = 1;
    // Our own timer (connect_timeout) names a client that never finishes its request; lws's
    // idle timeout for headers is only the backstop behind it.
    info.timeout_secs_ah_idle = connect_timeout_ms_ / 1000 + 10;
    info.timeout_secs = connect_timeout_ms_ / 1000 + 10;
    context_ = lws_create_context(&info);
    if (context_ == nullptr) {
        error = "cannot start libwebsockets on the event loop";
        return false;
    }
    return true;
}

bool WsServer::open(const core::ListenerConfig& config, std::string& name, std::string& error) {
    if (context_ == nullptr && !create_context(error)) return false;
    auto listener = std::make_unique<Listener>();
    listener->config = config;
    const bool tls = config.type == "wss";
    const std::string vhost_name = fmt::format("{}{}", config.type, listeners_.size());
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof(info));
    info.vhost_name = vhost_name.c_str();
    info.port = config.port;
    info.iface = config.address.c_str();
    info.protocols = kProtocols;
    info.user = listener.get();
    info.alpn = "http/1.1";  // no HTTP/2: WebSocket over h2 would need another path entirely
    info.keepalive_timeout = 30;
    if (tls) {
        // Without DO_SSL_GLOBAL_INIT in the vhost's own options lws silently serves plain ws.
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = config.cert_file.c_str();
        info.ssl_private_key_filepath = config.key_file.c_str();
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        info.ssl_info_event_mask = SSL_CB_HANDSHAKE_DONE;  // told apart in the refusal log
    }
    creating_ = listener.get();
    struct lws_vhost* vhost = lws_create_vhost(context_, &info);
    creating_ = nullptr;
    if (vhost == nullptr || (tls && !listener->tls)) {
        // lws logs only an errno: say why in words, as the TCP listeners do.
        std::string why = listener->tls_error;
        if (why.empty()) why = bind_problem(config.address, config.port);
        if (why.empty() && tls) why = "cannot load its certificate or key (libwebsockets' line above)";
        if (why.empty()) why = "libwebsockets refused it (its line above)";
        error = fmt::format("cannot listen on {} {}:{}: {}", config.type, config.address,
                            config.port, why);
        if (vhost != nullptr) lws_vhost_destroy(vhost);
        return false;
    }
    listener->vhost = vhost;
    listener->name = fmt::format("{} {}:{}", config.type, config.address,
                                 lws_get_vhost_listen_port(vhost));
    name = listener->name;
    listeners_.push_back(std::move(listener));
    return true;
}

int WsServer::on_event(struct lws* wsi, int reason, void* user, void* in, size_t len) {
    // The opaque pointer is the fast way to a session; lws sets it only after WSI_CREATE, so
    // until NEW_CLIENT_INSTANTIATED (or when a TLS handshake fails before it) the map serves.
    auto* session = static_cast<Session*>(lws_get_opaque_user_data(wsi));
    if (session == nullptr && !sessions_.empty()) {
        const auto found = sessions_.find(wsi);
        if (found != sessions_.end()) session = found->second;
    }
    switch (reason) {
        case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
            // The vhost being created: its SSL_CTX is set up here and kept for reloads.
            if (creating_ == nullptr) return 0;
            std::string error;
            auto* ctx = static_cast<SSL_CTX*>(user);
            creating_->tls = TlsContext::adopt(ctx, creating_->config, error);
            if (!creating_->tls) {
                creating_->tls_error = error;  // the reason open() gives
                return 1;
            }
            return 0;
        }
        case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
            // Only OpenSSL's own verdict counts (len carries preverify_ok).
            return len != 0 ? 0 : 1;
        // An accepted socket: FILTER_NETWORK_CONNECTION names the peer, WSI_CREATE follows at
        // once (even when the TLS handshake then fails inside the accept, before
        // NEW_CLIENT_INSTANTIATED, which is where the timer can be armed).
        case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
            if (user != nullptr) {
                const auto* accepted = static_cast<lws_filter_network_conn_args*>(user);
                accepted_peer_ = peer_name(accepted->cli_addr);
            }
            return 0;
        case LWS_CALLBACK_WSI_CREATE:
            if (session == nullptr) begin_session(wsi, std::move(accepted_peer_));
            accepted_peer_.clear();
            return 0;
        case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
            if (session == nullptr) session = begin_session(wsi, peer_name(lws_get_socket_fd(wsi)));
            if (session == nullptr) return 0;
            lws_set_opaque_user_data(wsi, session);
            lws_set_timer_usecs(wsi, static_cast<lws_usec_t>(connect_timeout_ms_) * 1000);
            return 0;
        case LWS_CALLBACK_SSL_INFO:
            if (session != nullptr && in != nullptr &&
                (static_cast<const lws_ssl_info*>(in)->where & SSL_CB_HANDSHAKE_DONE) != 0)
                session->tls_done = true;
            return 0;
        case LWS_CALLBACK_TIMER:
            if (session == nullptr || session->requested) return 0;
            session->timed_out = true;
            spdlog::info("{}: {}: no complete HTTP request or WebSocket upgrade within {} ms, "
                         "closing", session->peer, session->listener->name, connect_timeout_ms_);
            return -1;
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            if (session == nullptr) return -1;
            return confirm_upgrade(wsi, *session, static_cast<const char*>(in));
        case LWS_CALLBACK_ESTABLISHED:
            if (session == nullptr) return -1;
            return start_connection(wsi, *session);
        case LWS_CALLBACK_RECEIVE:
            if (session == nullptr || session->connection == nullptr) return -1;
            return session->connection->on_receive(static_cast<const uint8_t*>(in), len,
                                                    lws_frame_is_binary(wsi) != 0);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            if (session == nullptr || session->connection == nullptr) return -1;
            return session->connection->on_writeable();
        case LWS_CALLBACK_CLOSED:
            if (session != nullptr && session->connection != nullptr) {
                connection_gone(session->connection);
                session->connection = nullptr;
            }
            return 0;
        case LWS_CALLBACK_HTTP:
            if (session == nullptr) return -1;
            return start_http(wsi, *session, static_cast<const char*>(in));
        case LWS_CALLBACK_HTTP_WRITEABLE:
            if (session == nullptr) return -1;
            return write_http(wsi, *session);
        case LWS_CALLBACK_WSI_DESTROY:
            if (session == nullptr) return 0;
            lws_set_opaque_user_data(wsi, nullptr);
            sessions_.erase(wsi);
            end_session(session);
            return 0;
        default:
            return 0;
    }
}

WsServer::Session* WsServer::begin_session(struct lws* wsi, std::string peer) {
    struct lws_vhost* vhost = lws_get_vhost(wsi);
    auto* listener = vhost != nullptr ? static_cast<Listener*>(lws_get_vhost_user(vhost)) : nullptr;
    if (listener == nullptr) return nullptr;  // not one of our listeners' sockets
    auto* session = new Session();
    session->listener = listener;
    session->peer = peer.empty() ? "?" : std::move(peer);
    sessions_.emplace(wsi, session);
    return session;
}

// Before lws answers an upgrade: the listener's rules. >0: we answered (refused); 0: go on.
int WsServer::confirm_upgrade(struct lws* wsi, Session& session, const char* upgrade) {
    session.requested = true;
    lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
    const Listener& listener = *session.listener;
    if (listener.config.trust_x_forwarded_for) {
        const std::string forwarded = header(wsi, WSI_TOKEN_X_FORWARDED_FOR);
        const std::string_view first = trim(std::string_view(forwarded).substr(
            0, std::string_view(forwarded).find(',')));
        if (!first.empty()) session.peer = loggable(first);
    }
    const auto refuse = [&](unsigned code, const std::string& why) {
        spdlog::info("{}: {}: WebSocket upgrade refused ({}): {}", session.peer, listener.name,
                     code, why);
        lws_return_http_status(wsi, code, nullptr);
        return 1;
    };
    if (upgrade == nullptr || std::strcmp(upgrade, "websocket") != 0)
        return refuse(HTTP_STATUS_BAD_REQUEST, "not a WebSocket upgrade");
    if (stopping_) return refuse(HTTP_STATUS_SERVICE_UNAVAILABLE, "the broker is shutting down");
    const std::string path = header(wsi, WSI_TOKEN_GET_URI);
    if (path != kMqttPath)
        return refuse(HTTP_STATUS_NOT_FOUND,
                      fmt::format("path '{}': MQTT is served on /mqtt only", loggable(path)));
    const std::string protocols = header(wsi, WSI_TOKEN_PROTOCOL);
    if (!offers_mqtt(protocols))
        return refuse(HTTP_STATUS_BAD_REQUEST,
                      fmt::format("subprotocol '{}': mqtt or mqttv3.1 expected",
                                  loggable(protocols)));
    if (!listener.config.allowed_origins.empty()) {
        const std::string origin = header(wsi, WSI_TOKEN_ORIGIN);
        bool allowed = false;
        for (const std::string& candidate : listener.config.allowed_origins)
            allowed = allowed || candidate == origin;
        if (!allowed)
            return refuse(HTTP_STATUS_FORBIDDEN,
                          fmt::format("origin '{}' is not in allowed_origins", loggable(origin)));
    }
    return 0;
}

int WsServer::start_connection(struct lws* wsi, Session& session) {
    const bool tls = session.listener->config.type == "wss";
    std::string identity;
    if (tls && session.listener->config.use_identity_as_username) {
        const SSL* ssl = static_cast<const SSL*>(lws_get_ssl(wsi));
        if (ssl != nullptr) identity = peer_common_name(ssl);
        if (identity.empty()) {
            spdlog::info("{}: {}: refused: no verified client certificate with a common name "
                         "(use_identity_as_username)", session.peer, session.listener->name);
            return -1;
        }
    }
    auto* connection = new WsConnection(loop_, wsi, tls, session.peer, std::move(identity));
    session.connection = connection;
    connections_.insert(connection);
    ++live_;
    connection->start();
    return 0;
}

void WsServer::connection_gone(WsConnection* connection) {
    connection->on_lws_closed();
    connections_.erase(connection);
    delete connection;
    --live_;
    if (live_ == 0 && on_idle_) on_idle_();
}

void WsServer::end_session(Session* session) {
    if (session->connection != nullptr) {  // lws skipped CLOSED (it should not)
        connection_gone(session->connection);
        session->connection = nullptr;
    }
    if (!session->requested && !session->timed_out) {
        if (session->listener->config.type == "wss" && !session->tls_done)
            spdlog::info("{}: {}: TLS handshake failed or not finished (not TLS, a refused "
                         "version or client certificate), closed", session->peer,
                         session->listener->name);
        else
            spdlog::info("{}: {}: closed before a complete HTTP request", session->peer,
                         session->listener->name);
    }
    delete session;
}

int WsServer::start_http(struct lws* wsi, Session& session, const char* uri) {
    session.requested = true;
    lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
    const std::string path = uri != nullptr ? uri : "";
    const bool head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    const bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    unsigned status = HTTP_STATUS_NOT_FOUND;
    const char* type = "text/plain; charset=utf-8";
    std::string body;
    const core::ListenerConfig& config = session.listener->config;
    if (!get && !head) {
        body = "not found\n";
    } else if (path == "/healthz") {
        status = stopping_ ? HTTP_STATUS_SERVICE_UNAVAILABLE : HTTP_STATUS_OK;
        body = stopping_ ? "shutting down\n" : "ok\n";
    } else if (path == "/metrics") {
        status = HTTP_STATUS_OK;
        type = kMetricsType;
        render_metrics(loop_.broker(), body);
    } else if (path == kMqttPath) {
        status = HTTP_STATUS_BAD_REQUEST;
        body = "MQTT over WebSocket: upgrade with subprotocol mqtt\n";
    } else if (!config.http_dir.empty()) {
        const std::optional<std::string> file = resolve_http_file(config.http_dir, path);
        std::optional<std::string> content;
        if (file) content = read_http_file(*file, kMaxStaticFile);
        if (content) {
            status = HTTP_STATUS_OK;
            type = content_type_for(*file);
            body = std::move(*content);
        } else {
            if (path.find("..") != std::string::npos)
                spdlog::info("{}: {}: refused HTTP path '{}' (outside http_dir)", session.peer,
                             session.listener->name, loggable(path));
            body = "not found\n";
        }
    } else {
        body = "not found\n";
    }
    uint8_t buffer[LWS_PRE + 1024];
    uint8_t* start = buffer + LWS_PRE;
    uint8_t* p = start;
    uint8_t* end = buffer + sizeof(buffer) - 1;
    if (lws_add_http_common_headers(wsi, status, type, body.size(), &p, end) != 0 ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     reinterpret_cast<const unsigned char*>("no-cache"), 8, &p,
                                     end) != 0 ||
        lws_finalize_write_http_header(wsi, start, &p, end) != 0)
        return -1;
    if (head || body.empty()) return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
    session.http_body = std::move(body);
    session.http_sent = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

int WsServer::write_http(struct lws* wsi, Session& session) {
    if (session.http_sent >= session.http_body.size()) return 0;
    const size_t chunk = std::min(kHttpChunk, session.http_body.size() - session.http_sent);
    const bool last = session.http_sent + chunk == session.http_body.size();
    uint8_t buffer[LWS_PRE + kHttpChunk];
    std::memcpy(buffer + LWS_PRE, session.http_body.data() + session.http_sent, chunk);
    if (lws_write(wsi, buffer + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
        static_cast<int>(chunk))
        return -1;
    session.http_sent += chunk;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    std::string().swap(session.http_body);
    session.http_sent = 0;
    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

size_t WsServer::abort_all() {
    for (WsConnection* connection : connections_) connection->abort();
    return connections_.size();
}

void WsServer::shutdown() {
    if (context_ == nullptr || destroy_timer_ != nullptr) return;
    // lws_context_destroy must first run from inside the loop (a uv callback): it closes lws's
    // handles, which the loop then completes.
    destroy_timer_ = new uv_timer_t;
    uv_timer_init(loop_.loop(), destroy_timer_);
    destroy_timer_->data = this;
    uv_timer_start(destroy_timer_, &WsServer::on_destroy_timer, 0, 0);
}

void WsServer::on_destroy_timer(uv_timer_t* timer) {
    auto* self = static_cast<WsServer*>(timer->data);
    uv_close(reinterpret_cast<uv_handle_t*>(timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    lws_context_destroy(self->context_);
}

void WsServer::finish() {
    if (context_ == nullptr) return;
    lws_context_destroy(context_);
    context_ = nullptr;
}

void WsServer::reload_certificates() {
    // As tls listeners do (Listener::reload_certificate), with the same log lines.
    for (const auto& listener : listeners_) {
        if (!listener->tls) continue;
        std::string error;
        if (listener->tls->reload(error))
            spdlog::info("{}: certificate reloaded: {}", listener->name,
                         listener->tls->certificate_summary());
        else
            spdlog::error("{}: certificate reload failed, the old certificate is kept: {}",
                          listener->name, error);
    }
}

}  // namespace herald::net
