// The connection flags `herald presence` and `herald chat` take: the part of mosquitto's set
// that makes sense for a watcher and a chat user (no -t, -q, will or clean-session flags).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "tools/cli_common.h"

namespace herald::tools::chat {

// -h -p --unix -u -P -i -k -V -d -L/--url, stored in the CommonFlags that build_options reads.
void add_connection_flags(CLI::App& app, CommonFlags& flags);

// True when `name` may be a user or group id (SPEC 2): 1..64 bytes, none of / + # NUL or
// control characters, no leading '$'. Such ids become topic levels.
bool valid_id(const std::string& name);

}  // namespace herald::tools::chat
