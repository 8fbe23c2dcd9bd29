// Shared connection flags of `herald pub` / `herald sub`, the --url form, and the run loop.
#include "tools/cli_common.h"

#include <unistd.h>

#include <cstdio>
#include <limits>
#include <random>

#include "broker/mqtt/topic.h"

namespace herald::tools {

namespace {

// mqtt://[user[:password]@]host[:port][/topic]
bool parse_url(const std::string& url, CommonFlags& f, std::string& error) {
    const std::string scheme = "mqtt://";
    if (url.compare(0, scheme.size(), scheme) != 0) {
        error = "unsupported URL '" + url + "' (only mqtt://user:pass@host:port/topic)";
        return false;
    }
    std::string rest = url.substr(scheme.size());
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos && slash + 1 < rest.size()) f.topics.push_back(rest.substr(slash + 1));
    size_t at = authority.rfind('@');
    if (at != std::string::npos) {
        std::string cred = authority.substr(0, at);
        authority = authority.substr(at + 1);
        size_t colon = cred.find(':');
        f.username = cred.substr(0, colon);
        if (colon != std::string::npos) f.password = cred.substr(colon + 1);
    }
    size_t colon = authority.rfind(':');
    size_t bracket = authority.find(']');  // [::1]:1883
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        std::string port = authority.substr(colon + 1);
        authority = authority.substr(0, colon);
        if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
            std::stoi(port) > 65535 || std::stoi(port) == 0) {
            error = "invalid port in URL '" + url + "'";
            return false;
        }
        f.port = std::stoi(port);
    }
    if (authority.size() >= 2 && authority.front() == '[' && authority.back() == ']')
        authority = authority.substr(1, authority.size() - 2);
    if (!authority.empty()) f.host = authority;
    return true;
}

bool parse_version(const std::string& v, mqtt::ProtocolVersion& out) {
    if (v == "5" || v == "mqttv5") out = mqtt::ProtocolVersion::V5;
    else if (v == "311" || v == "mqttv311") out = mqtt::ProtocolVersion::V311;
    else return false;
    return true;
}

}  // namespace

void print_error(const std::string& message) { std::fprintf(stderr, "Error: %s\n", message.c_str()); }

void print_connect_failure(const ConnectResult& result) {
    std::fprintf(stderr, result.refused_by_server ? "Connection error: %s\n" : "Error: %s\n", result.error.c_str());
}

void print_lost_connection(const CloseInfo& info) {
    print_error(info.error.empty() ? "connection lost" : info.error);
}

void add_common_flags(CLI::App& app, CommonFlags& f, bool multi_topic) {
    // -h is the host, as in mosquitto_pub/sub; help stays on --help.
    app.set_help_flag("--help", "Print this help message and exit");
    app.add_option("-h,--host", f.host, "Broker host name or address")->capture_default_str();
    app.add_option("-p,--port", f.port, "Broker port")->capture_default_str()->check(CLI::Range(1, 65535));
    app.add_option("--unix", f.unix_path, "Connect to this Unix socket instead of TCP");
    app.add_option("--bind-address", f.bind_address, "Local source address for the TCP connection");
    app.add_option("--cafile", f.cafile, "TLS: CA certificates (PEM) the broker's must chain to; turns TLS on");
    app.add_option("--cert", f.cert, "TLS: client certificate (PEM), for brokers that ask for one");
    app.add_option("--key", f.key, "TLS: the client certificate's private key (PEM)");
    app.add_flag("--insecure", f.insecure, "TLS: do not check that the certificate names the host");
    if (multi_topic)
        app.add_option("-t,--topic", f.topics, "Topic filter to subscribe to (repeatable)")->take_all();
    else
        app.add_option("-t,--topic", f.topics, "Topic to publish to")->expected(1);
    app.add_option("-q,--qos", f.qos, "Quality of service (0, 1, 2)")->check(CLI::Range(0, 2));
    app.add_option("-u,--username", f.username, "User name");
    app.add_option("-P,--pw", f.password, "Password");
    app.add_option("-i,--id", f.client_id, "Client id (default: herald-pub/sub-<pid>)");
    app.add_option("-k,--keepalive", f.keepalive, "Keepalive in seconds (0 = off)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app.add_option("-V,--protocol-version", f.version, "mqttv5 | mqttv311 | 5 | 311")->capture_default_str();
    app.add_flag("-d,--debug", f.debug, "Print a packet trace on stderr");
    app.add_flag("-c,--disable-clean-session", f.no_clean, "Keep the session (clean start off)");
    app.add_option("-x,--session-expiry-interval", f.session_expiry, "Session expiry in seconds, or 'inf' (5.0)");
    app.add_option("--will-topic", f.will_topic, "Will topic");
    app.add_option("--will-payload", f.will_payload, "Will payload");
    app.add_option("--will-qos", f.will_qos, "Will QoS")->check(CLI::Range(0, 2));
    app.add_flag("--will-retain", f.will_retain, "Retain the will");
    app.add_option("-L,--url", f.url, "mqtt://user:pass@host:port/topic");
    app.footer(
        "  -D,--property COMMAND NAME VALUE [VALUE]\n"
        "        MQTT 5.0 property, as mosquitto: e.g. -D publish user-property k v,\n"
        "        -D connect session-expiry-interval 60. Commands: connect, publish, subscribe,\n"
        "        unsubscribe, disconnect, will.\n");
}

bool build_options(CommonFlags& f, const char* id_prefix, ConnectOptions& o, PropertySets& props,
                   std::string& error) {
    if (!f.url.empty() && !parse_url(f.url, f, error)) return false;
    if (!parse_version(f.version, o.version)) {
        error = "unknown protocol version '" + f.version + "' (mqttv5, mqttv311, 5, 311)";
        return false;
    }
    error = apply_property_args(f.property_args, props);
    if (!error.empty()) return false;
    if (!f.property_args.empty() && o.version != mqtt::ProtocolVersion::V5) {
        error = "-D/--property needs MQTT 5.0 (-V 5)";
        return false;
    }
    o.host = f.host;
    o.port = static_cast<uint16_t>(f.port);
    o.unix_path = f.unix_path;
    o.bind_address = f.bind_address;
    if (!f.cafile.empty()) {
        o.tls = ConnectOptions::Tls{f.cafile, f.cert, f.key, f.insecure};
    } else if (!f.cert.empty() || !f.key.empty() || f.insecure) {
        error = "--cert, --key and --insecure need --cafile (TLS)";
        return false;
    }
    if (f.cert.empty() != f.key.empty()) {
        error = "--cert and --key go together";
        return false;
    }
    o.keep_alive = static_cast<uint16_t>(f.keepalive);
    o.clean_start = !f.no_clean;
    o.username = f.username;
    o.password = f.password;
    if (f.password && !f.username) {
        error = "a password (-P) needs a user name (-u)";
        return false;
    }
    o.client_id = f.client_id;
    if (o.client_id.empty()) {
        if (f.no_clean) {
            error = "a persistent session (-c) needs a client id (-i)";
            return false;
        }
        std::random_device rd;
        o.client_id = std::string(id_prefix) + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
    }
    o.props = props.connect;
    if (!f.session_expiry.empty()) {
        if (f.session_expiry == "inf" || f.session_expiry == "∞") {
            o.props.session_expiry_interval = std::numeric_limits<uint32_t>::max();
        } else if (f.session_expiry.find_first_not_of("0123456789") == std::string::npos && f.session_expiry.size() <= 10 &&
                   std::stoull(f.session_expiry) <= std::numeric_limits<uint32_t>::max()) {
            o.props.session_expiry_interval = static_cast<uint32_t>(std::stoull(f.session_expiry));
        } else {
            error = "invalid session expiry interval '" + f.session_expiry + "'";
            return false;
        }
    } else if (f.no_clean && !o.props.session_expiry_interval) {
        // As mosquitto: -c without -x keeps the 5.0 session for ever, like a 3.1.1 one.
        o.props.session_expiry_interval = std::numeric_limits<uint32_t>::max();
    }
    if (!f.will_topic.empty()) {
        if (!mqtt::valid_topic_name(f.will_topic)) {
            error = "invalid will topic '" + f.will_topic + "'";
            return false;
        }
        mqtt::Will will;
        will.topic = f.will_topic;
        will.payload = f.will_payload;
        will.qos = static_cast<uint8_t>(f.will_qos);
        will.retain = f.will_retain;
        will.props = props.will;
        o.will = std::move(will);
    } else if (!f.will_payload.empty() || f.will_retain || f.will_qos != 0) {
        error = "will options need --will-topic";
        return false;
    }
    // Inbound topic aliases are resolved by the client; announce room for some.
    if (o.version == mqtt::ProtocolVersion::V5 && !o.props.topic_alias_maximum) o.props.topic_alias_maximum = 10;
    return true;
}

int run_client(const ConnectOptions& options, bool debug, const std::function<void(Client&, uv_loop_t*)>& setup,
               int& status) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    int result = kExitOk;
    {
        ClientLoop client_loop(&loop);
        Client client(client_loop, options);
        if (debug)
            client.on_trace = [](std::string_view line) {
                std::fprintf(stderr, "%.*s\n", int(line.size()), line.data());
            };
        uv_signal_t sigint, sigterm;
        uv_signal_init(&loop, &sigint);
        uv_signal_init(&loop, &sigterm);
        sigint.data = sigterm.data = &client;
        auto on_signal = [](uv_signal_t* s, int) {
            auto* c = static_cast<Client*>(s->data);
            if (c->state() == ClientState::Connected) c->disconnect();
            else c->close("interrupted");
        };
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        uv_unref(reinterpret_cast<uv_handle_t*>(&sigint));
        uv_unref(reinterpret_cast<uv_handle_t*>(&sigterm));
        setup(client, &loop);
        client.connect();
        uv_run(&loop, UV_RUN_DEFAULT);
        result = status;
        client_loop.close();
        // Close whatever the callbacks left open (signals, timers, stdin) and drain the loop.
        uv_walk(
            &loop,
            [](uv_handle_t* h, void*) {
                if (!uv_is_closing(h)) uv_close(h, nullptr);
            },
            nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    std::fflush(stdout);
    return result;
}

}  // namespace herald::tools
