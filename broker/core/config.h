// Broker configuration as a plain value: every key of examples/herald.toml, with its default.
//
// Loaded from TOML by broker/config (config_file.h); core only reads it. Values that SIGHUP
// may change (ACL, limits, log level) are re-applied with Broker::reload().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace herald::core {

struct ListenerConfig {
    std::string type = "tcp";          // tcp | tls | ws | wss | unix
    std::string address = "127.0.0.1";  // for unix: the socket path
    uint16_t port = 1883;               // default by type: 1883, tls 8883, ws 8080, wss 8443

    // TLS (type tls and wss): PEM files, resolved to absolute paths; reloaded on SIGHUP.
    std::string cert_file;               // the server's certificate chain (required)
    std::string key_file;                // its private key (required)
    std::string ca_file;                 // CAs that sign client certificates ("" = none asked)
    bool require_certificate = false;    // refuse a client without a certificate from ca_file
    bool use_identity_as_username = false;  // the certificate's CN is the username (mosquitto)
    std::string tls_version = "tlsv1.2";  // lowest version accepted: tlsv1.2 | tlsv1.3

    // WebSocket (type ws and wss).
    std::vector<std::string> allowed_origins;  // Origin header must be one of these; empty = any
    std::string http_dir;                      // static files served over HTTP ("" = none)
    bool trust_x_forwarded_for = false;        // the peer is a proxy: take X-Forwarded-For

    // Type tcp and tls: every connection starts with a PROXY protocol v1 or v2 header, which
    // names the real client (a connection without one is refused).
    bool proxy_protocol = false;

    bool is_tls() const { return type == "tls" || type == "wss"; }
    bool is_websocket() const { return type == "ws" || type == "wss"; }
};

// [auth]: JWT bearer tokens in the password field (SPEC 2) and the limits of identity checks.
// Read by heraldd's Identity (broker/identity); core reads only max_user_id_bytes.
struct AuthConfig {
    std::string jwt_hs256_secret;            // inline shared secret (at least 32 bytes)
    std::string jwt_hs256_secret_file;       // or the file holding it
    std::string jwt_rs256_public_key_file;   // PEM "BEGIN PUBLIC KEY" (RSA)
    std::string jwt_es256_public_key_file;   // PEM "BEGIN PUBLIC KEY" (EC P-256)
    std::string jwt_audience;                // non-empty: "aud" must contain it
    std::string jwt_issuer;                  // non-empty: "iss" must equal it
    bool jwt_require_exp = true;             // refuse tokens without "exp"
    uint32_t jwt_leeway = 30;                // seconds of clock skew allowed on exp / nbf
    uint32_t max_pending_checks = 64;        // password/token checks in flight; more: 0x89
    uint32_t max_user_id_bytes = 64;         // SPEC 2: longer user ids are refused

    bool jwt_configured() const {
        return !jwt_hs256_secret.empty() || !jwt_hs256_secret_file.empty() ||
               !jwt_rs256_public_key_file.empty() || !jwt_es256_public_key_file.empty();
    }
};

struct Config {
    std::vector<ListenerConfig> listeners;  // empty in a file -> one tcp 127.0.0.1:1883

    bool allow_anonymous = false;  // true when started with no config file
    std::string acl_file;          // mosquitto ACL format; empty: everything allowed
    std::string password_file;     // mosquitto_passwd format (plain "user:password" also accepted)
    std::string data_dir = "data";
    std::string durability = "process";  // process | power: what a committed write survives

    std::string log_level = "info";  // trace | debug | info | warn | error
    bool log_json = false;

    // --- limits (SPEC 6) ---
    uint32_t max_packet_size = 1048576;      // bytes, both directions
    uint16_t max_keepalive = 65535;          // seconds; larger client values are cut to this
    uint32_t connect_timeout_ms = 10000;     // no CONNECT within this: close
    uint32_t max_connections = 10000;        // 0 = no limit
    uint32_t max_connect_rate = 0;           // new connections per second; 0 = no limit
    uint32_t max_queued_messages = 1000;     // per session, QoS 1/2 waiting (+ QoS 0 if queue_qos0)
    uint64_t max_queued_bytes = 16777216;    // per session, payload bytes waiting
    uint16_t max_inflight_messages = 20;     // outgoing QoS 1/2 window per client (also capped
                                             // by the client's Receive Maximum)
    uint16_t receive_maximum = 100;          // advertised; a client exceeding it: DISCONNECT 0x93
    uint16_t topic_alias_maximum = 10;       // aliases a client may use towards us
    uint32_t max_session_expiry = 0;         // seconds; 0 = no cap
    uint8_t max_qos = 2;
    bool retain_available = true;
    uint32_t max_topic_levels = 128;         // a deeper topic or filter is refused
    uint32_t sys_interval = 10;              // seconds between $SYS publications; 0 = off
    uint32_t max_output_buffer = 1048576;    // bytes waiting in the socket before a client is
                                             // treated as slow (QoS 0 dropped, QoS>0 queued)

    // --- [presence] (SPEC 4): users with a username; anonymous clients have none ---
    uint32_t presence_grace_ms = 5000;        // an abrupt loss shows offline only after this
    std::string presence_visibility = "contacts";  // contacts | all
    uint32_t presence_max_devices = 8;        // per user; 0 = no limit
    std::string presence_device_policy = "replace_oldest";  // replace_oldest | reject_new
    uint32_t presence_group_limit = 100;      // co-members of groups up to this size see each other

    // --- [streams] (SPEC 5): messages that wait, per user and per group ---
    uint32_t streams_ttl = 604800;                // seconds an entry is kept at most; 0 = no limit
    uint32_t streams_device_expiry = 2592000;     // seconds: a device not seen since stops holding entries
    uint32_t streams_max_pending = 1000;          // entries waiting per user; 0 = no limit
    uint64_t streams_max_pending_bytes = 16777216;  // payload bytes waiting per user; 0 = no limit
    uint32_t streams_max_per_conversation = 0;    // entries waiting per users/{to}/{from}; 0 = no limit
    std::string streams_policy = "reject_new";    // reject_new | drop_oldest, when a limit is reached

    AuthConfig auth;  // [auth]
};

}  // namespace herald::core
