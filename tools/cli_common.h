// What `herald pub` and `herald sub` share: the connection flags (mosquitto's letters), turning
// them into ConnectOptions, and running one Client on a loop until it is done.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/cli_properties.h"
#include "tools/client/client.h"

namespace herald::tools {

// Exit statuses. 27 is mosquitto_sub's for -W (MOSQ_ERR_TIMEOUT).
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitTimeout = 27;

struct CommonFlags {
    std::string host = "localhost";
    int port = 1883;
    std::string unix_path;
    std::string bind_address;
    std::string cafile, cert, key;  // TLS, as mosquitto_pub: --cafile turns it on
    bool insecure = false;
    std::vector<std::string> topics;
    int qos = 0;
    std::optional<std::string> username, password;
    std::string client_id;
    int keepalive = 60;
    std::string version = "5";
    bool debug = false;
    bool no_clean = false;      // -c
    std::string session_expiry;  // -x: seconds, or "inf"/"∞"
    std::string will_topic, will_payload;
    int will_qos = 0;
    bool will_retain = false;
    std::string url;
    std::vector<PropertyArg> property_args;  // filled by main() from -D groups
};

// Adds the shared flags to a subcommand; `multi_topic` lets -t repeat (sub).
void add_common_flags(CLI::App& app, CommonFlags& flags, bool multi_topic);

// Turns the flags into ConnectOptions and the per-packet property sets. On a usage error
// returns false with `error` set (printed as "Error: ...").
bool build_options(CommonFlags& flags, const char* id_prefix, ConnectOptions& options, PropertySets& props,
                   std::string& error);

// Runs a loop with one client until it closes; SIGINT/SIGTERM disconnect it cleanly.
// `setup` wires the client's callbacks and may start extra handles on the loop (it gets the
// loop); returns the status the callbacks left in `status`.
int run_client(const ConnectOptions& options, bool debug,
               const std::function<void(Client&, uv_loop_t*)>& setup, int& status);

// Prints "Error: <message>" on stderr.
void print_error(const std::string& message);

// Prints why a connect failed as mosquitto's clients do: "Connection error: ..." when the
// broker refused it, "Error: ..." otherwise.
void print_connect_failure(const ConnectResult& result);

// Prints "Error: connection lost[...]" for a close the command did not ask for.
void print_lost_connection(const CloseInfo& info);

}  // namespace herald::tools
