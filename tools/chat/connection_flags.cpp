// Connection flags shared by `herald presence` and `herald chat`, and the id check they share.
#include "tools/chat/connection_flags.h"

namespace herald::tools::chat {

void add_connection_flags(CLI::App& app, CommonFlags& f) {
    // -h is the host, as in mosquitto_sub; help stays on --help.
    app.set_help_flag("--help", "Print this help message and exit");
    app.add_option("-h,--host", f.host, "Broker host name or address")->capture_default_str();
    app.add_option("-p,--port", f.port, "Broker port")->capture_default_str()->check(CLI::Range(1, 65535));
    app.add_option("--unix", f.unix_path, "Connect to this Unix socket instead of TCP");
    app.add_option("-u,--username", f.username, "User name");
    app.add_option("-P,--pw", f.password, "Password");
    app.add_option("-i,--id", f.client_id, "Client id");
    app.add_option("-k,--keepalive", f.keepalive, "Keepalive in seconds (0 = off)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app.add_option("-V,--protocol-version", f.version, "mqttv5 | mqttv311 | 5 | 311")->capture_default_str();
    app.add_flag("-d,--debug", f.debug, "Print a packet trace on stderr");
    app.add_option("-L,--url", f.url, "mqtt://user:pass@host:port");
}

bool valid_id(const std::string& name) {
    if (name.empty() || name.size() > 64 || name[0] == '$') return false;
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7F || c == '/' || c == '+' || c == '#') return false;
    return true;
}

}  // namespace herald::tools::chat
