// One round trip with the admin API (SPEC 7) for the `herald` admin commands: subscribe to
// `$CONTROL/herald/v1/response`, publish {"commands":[command]} to `$CONTROL/herald/v1` at
// QoS 1, and wait (at most -W seconds) for the answer that carries our correlationData.
// A list command may ask for the next page from its answer: the same connection is reused.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "tools/cli_common.h"

namespace herald::tools::admin {

struct AdminFlags {
    CommonFlags common;
    int timeout = 10;  // -W: seconds to wait for each answer
    bool json = false; // --json: print each answer object as received
};

// -h -p --unix -u -P -i -k -V -d -L, and -W, --json.
void add_admin_flags(CLI::App& app, AdminFlags& flags);

// Gets the "data" of a successful answer; returns the next command to send (the following
// page) or nullopt when done.
using OnData = std::function<std::optional<nlohmann::json>(const nlohmann::json& data)>;

// Runs the exchange. Exit status: 0; 1 when the broker refused (the answer's error sentence
// is printed as "Error: ..."), the connection failed or the subscription / publish was
// refused; 27 when no answer came within -W seconds.
int call_admin(AdminFlags& flags, nlohmann::json command, const OnData& on_data);

}  // namespace herald::tools::admin
