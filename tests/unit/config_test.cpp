// The config file parser: every key, units, ranges, and the exact error lines people will see.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "broker/config/config_file.h"
#include "broker/config/units.h"

using herald::config::parse_config;
using herald::core::Config;

namespace {

std::string parse_error(const std::string& text) {
    Config config;
    std::string error;
    CHECK_FALSE(parse_config(text, "herald.toml", config, error));
    return error;
}

Config parse_ok(const std::string& text, const std::string& origin = "herald.toml") {
    Config config;
    std::string error;
    CHECK_MESSAGE(parse_config(text, origin, config, error), error);
    return config;
}

}  // namespace

TEST_CASE("units: durations") {
    uint64_t ms = 0;
    CHECK(herald::config::parse_duration_ms("500ms", ms));
    CHECK(ms == 500);
    CHECK(herald::config::parse_duration_ms("10s", ms));
    CHECK(ms == 10000);
    CHECK(herald::config::parse_duration_ms("5m", ms));
    CHECK(ms == 300000);
    CHECK(herald::config::parse_duration_ms("2h", ms));
    CHECK(ms == 7200000);
    CHECK(herald::config::parse_duration_ms("7d", ms));
    CHECK(ms == 604800000);
    CHECK_FALSE(herald::config::parse_duration_ms("10", ms));
    CHECK_FALSE(herald::config::parse_duration_ms("1.5h", ms));
    CHECK_FALSE(herald::config::parse_duration_ms("-1s", ms));
    CHECK_FALSE(herald::config::parse_duration_ms("s", ms));
    CHECK_FALSE(herald::config::parse_duration_ms("99999999999999999999d", ms));
    CHECK_FALSE(herald::config::parse_duration_ms("9999999999999999d", ms));
}

TEST_CASE("units: sizes") {
    uint64_t bytes = 0;
    CHECK(herald::config::parse_size("64KiB", bytes));
    CHECK(bytes == 65536);
    CHECK(herald::config::parse_size("1MiB", bytes));
    CHECK(bytes == 1048576);
    CHECK(herald::config::parse_size("16MiB", bytes));
    CHECK(bytes == 16777216);
    CHECK(herald::config::parse_size("1GiB", bytes));
    CHECK(bytes == 1073741824);
    CHECK(herald::config::parse_size("512", bytes));
    CHECK(bytes == 512);
    CHECK(herald::config::parse_size("512B", bytes));
    CHECK_FALSE(herald::config::parse_size("1MB", bytes));
    CHECK_FALSE(herald::config::parse_size("KiB", bytes));
}

TEST_CASE("an empty file: defaults, one loopback listener, anonymous refused") {
    const Config config = parse_ok("");
    REQUIRE(config.listeners.size() == 1);
    CHECK(config.listeners[0].type == "tcp");
    CHECK(config.listeners[0].address == "127.0.0.1");
    CHECK(config.listeners[0].port == 1883);
    CHECK_FALSE(config.allow_anonymous);
    CHECK(config.max_packet_size == 1048576);
    CHECK(config.connect_timeout_ms == 10000);
    CHECK(config.data_dir == "data");
    CHECK(config.durability == "process");
}

TEST_CASE("every key is read") {
    const Config config = parse_ok(R"(
allow_anonymous = true
acl_file = "/etc/herald/acl"
password_file = "/etc/herald/passwd"
data_dir = "/var/lib/herald"
durability = "power"
log_level = "debug"
log_json = true
max_packet_size = "64KiB"
max_keepalive = 600
connect_timeout = "500ms"
max_connections = 5
max_connect_rate = 7
max_queued_messages = 11
max_queued_bytes = "1MiB"
max_inflight_messages = 13
receive_maximum = 17
topic_alias_maximum = 19
max_session_expiry = "1d"
max_qos = 1
retain_available = false
max_topic_levels = 23
sys_interval = "1m"
max_output_buffer = 4096
[[listeners]]
type = "tcp"
address = "::1"
port = 0
[[listeners]]
type = "unix"
address = "/tmp/herald.sock"
)");
    CHECK(config.allow_anonymous);
    CHECK(config.acl_file == "/etc/herald/acl");
    CHECK(config.password_file == "/etc/herald/passwd");
    CHECK(config.data_dir == "/var/lib/herald");
    CHECK(config.durability == "power");
    CHECK(config.log_level == "debug");
    CHECK(config.log_json);
    CHECK(config.max_packet_size == 65536);
    CHECK(config.max_keepalive == 600);
    CHECK(config.connect_timeout_ms == 500);
    CHECK(config.max_connections == 5);
    CHECK(config.max_connect_rate == 7);
    CHECK(config.max_queued_messages == 11);
    CHECK(config.max_queued_bytes == 1048576);
    CHECK(config.max_inflight_messages == 13);
    CHECK(config.receive_maximum == 17);
    CHECK(config.topic_alias_maximum == 19);
    CHECK(config.max_session_expiry == 86400);
    CHECK(config.max_qos == 1);
    CHECK_FALSE(config.retain_available);
    CHECK(config.max_topic_levels == 23);
    CHECK(config.sys_interval == 60);
    CHECK(config.max_output_buffer == 4096);
    REQUIRE(config.listeners.size() == 2);
    CHECK(config.listeners[0].address == "::1");
    CHECK(config.listeners[0].port == 0);
    CHECK(config.listeners[1].type == "unix");
    CHECK(config.listeners[1].address == "/tmp/herald.sock");
}

TEST_CASE("an integer duration is seconds") {
    CHECK(parse_ok("connect_timeout = 3").connect_timeout_ms == 3000);
    CHECK(parse_ok("max_session_expiry = 3600").max_session_expiry == 3600);
}

TEST_CASE("relative paths are relative to the config file's directory") {
    const Config config = parse_ok(
        "acl_file = \"acl.conf\"\npassword_file = \"../passwd\"\n"
        "[[listeners]]\ntype = \"unix\"\naddress = \"run/herald.sock\"\n",
        "/etc/herald/herald.toml");
    CHECK(config.acl_file == "/etc/herald/acl.conf");
    CHECK(config.password_file == "/etc/passwd");
    CHECK(config.data_dir == "/etc/herald/data");
    CHECK(config.listeners[0].address == "/etc/herald/run/herald.sock");
}

TEST_CASE("errors name the file, the line and the key") {
    CHECK(parse_error("max_qos = 1\n\nmax_packet_sise = 10\n") ==
          "herald.toml:3: unknown key 'max_packet_sise'");
    CHECK(parse_error("max_qos = 3\n") == "herald.toml:1: max_qos = 3 is out of range (0..2)");
    CHECK(parse_error("durability = \"disk\"\n") ==
          "herald.toml:1: durability 'disk' is not one of process | power");
    CHECK(parse_error("receive_maximum = 0\n") ==
          "herald.toml:1: receive_maximum = 0 is out of range (1..65535)");
    CHECK(parse_error("receive_maximum = 65536\n").starts_with("herald.toml:1: receive_maximum"));
    CHECK(parse_error("max_packet_size = 1\n") ==
          "herald.toml:1: max_packet_size = 1 is out of range (2..268435460 bytes)");
    CHECK(parse_ok("max_packet_size = 268435460\n").max_packet_size == 268435460);
    CHECK(parse_error("max_packet_size = 268435461\n").starts_with("herald.toml:1:"));
    CHECK(parse_error("max_packet_size = \"1MB\"\n").find("cannot read \"1MB\" as a size") !=
          std::string::npos);
    CHECK(parse_error("allow_anonymous = \"yes\"\n") ==
          "herald.toml:1: allow_anonymous must be true or false, not a string");
    CHECK(parse_error("max_connections = \"10\"\n") ==
          "herald.toml:1: max_connections must be an integer, not a string");
    CHECK(parse_error("max_keepalive = -1\n").find("out of range") != std::string::npos);
    CHECK(parse_error("sys_interval = \"1500ms\"\n") ==
          "herald.toml:1: sys_interval = \"1500ms\" is not a whole number of seconds");
    CHECK(parse_error("log_level = \"loud\"\n").starts_with("herald.toml:1: log_level 'loud'"));
    CHECK(parse_error("max_qos = \n").starts_with("herald.toml:1: "));  // TOML syntax error
}

TEST_CASE("listener errors") {
    CHECK(parse_error("[[listeners]]\ntype = \"quic\"\n") ==
          "herald.toml:2: listener type 'quic' is not supported (tcp | tls | ws | wss | unix)");
    CHECK(parse_error("[[listeners]]\ntype = \"tls\"\n") ==
          "herald.toml:1: a tls listener needs cert_file and key_file");
    CHECK(parse_error("[[listeners]]\ntype = \"tcp\"\ncert_file = \"a.pem\"\n") ==
          "herald.toml:3: listeners.cert_file is for tls and wss listeners, not tcp");
    CHECK(parse_error("[[listeners]]\ntype = \"tls\"\nhttp_dir = \"www\"\n") ==
          "herald.toml:3: listeners.http_dir is for ws and wss listeners, not tls");
    CHECK(parse_error("[[listeners]]\ntype = \"ws\"\nproxy_protocol = true\n")
              .starts_with("herald.toml:3: listeners.proxy_protocol is for tcp and tls"));
    CHECK(parse_error("[[listeners]]\ntype = \"wss\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
                      "require_certificate = true\n")
              .find("needs ca_file") != std::string::npos);
    CHECK(parse_error("[[listeners]]\ntype = \"tls\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
                      "use_identity_as_username = true\n")
              .find("needs require_certificate = true") != std::string::npos);
    CHECK(parse_error("[[listeners]]\ntype = \"tls\"\ntls_version = \"tlsv1.1\"\n") ==
          "herald.toml:3: listeners.tls_version 'tlsv1.1' is not one of tlsv1.2 | tlsv1.3");
    CHECK(parse_error("[[listeners]]\ntype = \"ws\"\nallowed_origins = \"x\"\n")
              .find("must be an array of strings") != std::string::npos);
    CHECK(parse_error("[[listeners]]\nport = 70000\n") ==
          "herald.toml:2: listeners.port = 70000 is out of range (0..65535)");
    CHECK(parse_error("[[listeners]]\nadress = \"::1\"\n") ==
          "herald.toml:2: unknown key 'listeners.adress'");
    CHECK(parse_error("[listeners]\nport = 1\n").find("write [[listeners]]") != std::string::npos);
    CHECK(parse_error("[[listeners]]\ntype = \"unix\"\n").find("needs address") !=
          std::string::npos);
}

TEST_CASE("tls, ws and wss listeners: keys, defaults by type, paths resolved") {
    const Config config = parse_ok(
        "[[listeners]]\ntype = \"tls\"\ncert_file = \"s.crt\"\nkey_file = \"s.key\"\n"
        "ca_file = \"ca.crt\"\nrequire_certificate = true\nuse_identity_as_username = true\n"
        "tls_version = \"tlsv1.3\"\nproxy_protocol = true\n"
        "[[listeners]]\ntype = \"ws\"\nallowed_origins = [\"http://a\", \"https://b\"]\n"
        "http_dir = \"www\"\ntrust_x_forwarded_for = true\n"
        "[[listeners]]\ntype = \"wss\"\ncert_file = \"/k/s.crt\"\nkey_file = \"/k/s.key\"\n",
        "/etc/herald/herald.toml");
    REQUIRE(config.listeners.size() == 3);
    const auto& tls = config.listeners[0];
    CHECK(tls.port == 8883);
    CHECK(tls.is_tls());
    CHECK_FALSE(tls.is_websocket());
    CHECK(tls.cert_file == "/etc/herald/s.crt");
    CHECK(tls.key_file == "/etc/herald/s.key");
    CHECK(tls.ca_file == "/etc/herald/ca.crt");
    CHECK(tls.require_certificate);
    CHECK(tls.use_identity_as_username);
    CHECK(tls.tls_version == "tlsv1.3");
    CHECK(tls.proxy_protocol);
    const auto& ws = config.listeners[1];
    CHECK(ws.port == 8080);
    CHECK(ws.is_websocket());
    CHECK(ws.allowed_origins == std::vector<std::string>{"http://a", "https://b"});
    CHECK(ws.http_dir == "/etc/herald/www");
    CHECK(ws.trust_x_forwarded_for);
    const auto& wss = config.listeners[2];
    CHECK(wss.port == 8443);
    CHECK(wss.is_tls());
    CHECK(wss.is_websocket());
    CHECK(wss.cert_file == "/k/s.crt");
    CHECK(wss.tls_version == "tlsv1.2");
}

TEST_CASE("load_config_file reports a missing file") {
    Config config;
    std::string error;
    CHECK_FALSE(herald::config::load_config_file("/nonexistent/herald.toml", config, error));
    CHECK(error == "cannot read /nonexistent/herald.toml: No such file or directory");
}

TEST_CASE("a failed parse leaves the old config untouched") {
    Config config;
    config.max_qos = 1;
    std::string error;
    CHECK_FALSE(parse_config("max_qos = 0\nbogus = 1\n", "herald.toml", config, error));
    CHECK(config.max_qos == 1);
}

TEST_CASE("[presence]: every key, defaults, and errors") {
    Config defaults = parse_ok("");
    CHECK(defaults.presence_grace_ms == 5000);
    CHECK(defaults.presence_visibility == "contacts");
    CHECK(defaults.presence_max_devices == 8);
    CHECK(defaults.presence_device_policy == "replace_oldest");
    CHECK(defaults.presence_group_limit == 100);

    Config c = parse_ok("[presence]\ngrace = \"1500ms\"\nvisibility = \"all\"\nmax_devices = 1\n"
                        "device_policy = \"reject_new\"\ngroup_limit = 20\n");
    CHECK(c.presence_grace_ms == 1500);
    CHECK(c.presence_visibility == "all");
    CHECK(c.presence_max_devices == 1);
    CHECK(c.presence_device_policy == "reject_new");
    CHECK(c.presence_group_limit == 20);
    CHECK(parse_ok("[presence]\ngrace = 0\n").presence_grace_ms == 0);

    CHECK(parse_error("[presence]\nvisibility = \"friends\"\n") ==
          "herald.toml:2: presence.visibility 'friends' is not one of contacts | all");
    CHECK(parse_error("[presence]\ndevice_policy = \"kick\"\n") ==
          "herald.toml:2: presence.device_policy 'kick' is not one of replace_oldest | reject_new");
    CHECK(parse_error("[presence]\nmood = 1\n") == "herald.toml:2: unknown key 'presence.mood'");
    CHECK(parse_error("[presence]\ngrace = \"soon\"\n").find("presence.grace: cannot read") !=
          std::string::npos);
    CHECK(parse_error("presence = 3\n") == "herald.toml:1: presence must be a table: write [presence]");
}

TEST_CASE("[streams]: every key, defaults, and errors") {
    Config defaults = parse_ok("");
    CHECK(defaults.streams_ttl == 7 * 24 * 3600);
    CHECK(defaults.streams_device_expiry == 30 * 24 * 3600);
    CHECK(defaults.streams_max_pending == 1000);
    CHECK(defaults.streams_max_pending_bytes == 16 * 1024 * 1024);
    CHECK(defaults.streams_max_per_conversation == 0);
    CHECK(defaults.streams_policy == "reject_new");

    Config c = parse_ok("[streams]\nttl = \"2h\"\ndevice_expiry = \"1d\"\nmax_pending = 5\n"
                        "max_pending_bytes = \"1KiB\"\nmax_per_conversation = 3\npolicy = \"drop_oldest\"\n");
    CHECK(c.streams_ttl == 7200);
    CHECK(c.streams_device_expiry == 86400);
    CHECK(c.streams_max_pending == 5);
    CHECK(c.streams_max_pending_bytes == 1024);
    CHECK(c.streams_max_per_conversation == 3);
    CHECK(c.streams_policy == "drop_oldest");
    CHECK(parse_ok("[streams]\nttl = 0\n").streams_ttl == 0);

    CHECK(parse_error("[streams]\npolicy = \"block\"\n") ==
          "herald.toml:2: streams.policy 'block' is not one of reject_new | drop_oldest");
    CHECK(parse_error("[streams]\nsize = 1\n") == "herald.toml:2: unknown key 'streams.size'");
    CHECK(parse_error("streams = 3\n") == "herald.toml:1: streams must be a table: write [streams]");
}

TEST_CASE("SPEC2 [auth]: JWT keys, limits, paths beside the file, errors with their line") {
    Config c = parse_ok(
        "[auth]\n"
        "jwt_hs256_secret = \"0123456789abcdef0123456789abcdef\"\n"
        "jwt_rs256_public_key_file = \"keys/rs.pem\"\n"
        "jwt_audience = \"chat\"\n"
        "jwt_issuer = \"app\"\n"
        "jwt_require_exp = false\n"
        "jwt_leeway = 5\n"
        "max_pending_checks = 8\n"
        "max_user_id_bytes = 32\n",
        "/etc/herald/herald.toml");
    CHECK(c.auth.jwt_hs256_secret == "0123456789abcdef0123456789abcdef");
    CHECK(c.auth.jwt_rs256_public_key_file == "/etc/herald/keys/rs.pem");
    CHECK(c.auth.jwt_audience == "chat");
    CHECK(c.auth.jwt_issuer == "app");
    CHECK_FALSE(c.auth.jwt_require_exp);
    CHECK(c.auth.jwt_leeway == 5);
    CHECK(c.auth.max_pending_checks == 8);
    CHECK(c.auth.max_user_id_bytes == 32);
    CHECK(c.auth.jwt_configured());

    Config d = parse_ok("");
    CHECK_FALSE(d.auth.jwt_configured());
    CHECK(d.auth.jwt_require_exp);
    CHECK(d.auth.jwt_leeway == 30);
    CHECK(d.auth.max_pending_checks == 64);
    CHECK(d.auth.max_user_id_bytes == 64);

    CHECK(parse_error("[auth]\njwt_hs256_secret = \"short\"\n").find("herald.toml:2: auth.jwt_hs256_secret is 5 bytes") == 0);
    CHECK(parse_error("[auth]\njwt_algorithm = \"HS256\"\n") == "herald.toml:2: unknown key 'auth.jwt_algorithm'");
    CHECK(parse_error("[auth]\nmax_pending_checks = 0\n") == "herald.toml:2: auth.max_pending_checks = 0 is out of range (1..100000)");
    CHECK(parse_error("[auth]\njwt_leeway = \"5s\"\n") == "herald.toml:2: auth.jwt_leeway must be an integer, not a string");
    CHECK(parse_error("auth = 3\n") == "herald.toml:1: auth must be a table: write [auth]");
    CHECK(parse_error("[auth]\njwt_hs256_secret = \"0123456789abcdef0123456789abcdef\"\n"
                      "jwt_hs256_secret_file = \"s\"\n")
              .find("not both") != std::string::npos);
}
