// The WebSocket and HTTP listeners (types ws and wss): libwebsockets on the broker's own uv
// loop, as a foreign loop, one lws vhost per listener.
//
// On each listener: MQTT over WebSocket on path /mqtt (subprotocols mqtt and mqttv3.1), each
// connection a WsConnection through the same Broker doors as TCP; and plain HTTP: GET /healthz,
// GET /metrics, the files of http_dir, 404 for the rest. Refusals (wrong path or subprotocol,
// an Origin not allowed, an upgrade not finished within connect_timeout, a failed TLS
// handshake) are logged, one line each.
//
// Shutdown (DESIGN.md, "Facts found"): while the broker says goodbye the listeners stay open
// but refuse upgrades and answer /healthz 503; once every connection is gone, shutdown() calls
// lws_context_destroy from a uv callback, which closes lws's handles; after uv_run has
// returned, finish() calls it again to free the context.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <uv.h>

#include "broker/core/config.h"

struct lws;
struct lws_context;
struct lws_vhost;

namespace herald::net {

class LoopState;
class WsConnection;

class WsServer {
public:
    WsServer(LoopState& loop, uint32_t connect_timeout_ms);
    ~WsServer();
    WsServer(const WsServer&) = delete;
    WsServer& operator=(const WsServer&) = delete;

    // Opens a ws or wss listener; on success `name` is "ws 127.0.0.1:8080" with the port bound.
    bool open(const core::ListenerConfig& config, std::string& name, std::string& error);

    // Graceful shutdown has begun: upgrades are refused, /healthz answers 503.
    void stop_accepting() { stopping_ = true; }

    size_t live_connections() const { return live_; }
    // Forced shutdown: aborts every WebSocket connection. Returns how many.
    size_t abort_all();
    // Runs when the last WebSocket connection has gone.
    void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

    // Every connection is gone: the first lws_context_destroy, from a uv callback.
    void shutdown();
    // After uv_run has returned: the second lws_context_destroy.
    void finish();

    // SIGHUP: each wss listener loads its certificate and key files again into its SSL_CTX.
    // A listener whose files do not load keeps the old ones; each failure is logged.
    void reload_certificates();

    struct Listener;  // one vhost (ws_server.cpp)
    struct Session;   // one accepted socket (ws_server.cpp)

    // The one libwebsockets callback of every protocol: finds the WsServer (the context's
    // user) and turns any exception into a closed connection.
    static int dispatch(struct lws* wsi, int reason, void* user, void* in, size_t len);

private:
    int on_event(struct lws* wsi, int reason, void* user, void* in, size_t len);
    bool create_context(std::string& error);
    int confirm_upgrade(struct lws* wsi, Session& session, const char* upgrade);
    int start_connection(struct lws* wsi, Session& session);
    int start_http(struct lws* wsi, Session& session, const char* uri);
    int write_http(struct lws* wsi, Session& session);
    void connection_gone(WsConnection* connection);
    void end_session(struct lws* wsi, Session* session);
    static void on_destroy_timer(uv_timer_t* timer);

    LoopState& loop_;
    uint32_t connect_timeout_ms_;
    struct lws_context* context_ = nullptr;
    void* foreign_loop_ = nullptr;  // lws's foreign_loops array: our uv loop
    std::vector<std::unique_ptr<Listener>> listeners_;
    Listener* creating_ = nullptr;  // the listener whose vhost lws_create_vhost is building
    std::unordered_set<WsConnection*> connections_;
    size_t live_ = 0;
    std::function<void()> on_idle_;
    uv_timer_t* destroy_timer_ = nullptr;
    bool stopping_ = false;
    bool destroyed_ = false;
};

}  // namespace herald::net
