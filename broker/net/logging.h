// The process's log: spdlog to stderr, one line per event, as text or as JSON lines.
//
// Text: "2026-11-21T08:00:00.123Z info heraldd[1234]: message" (UTC, milliseconds).
// JSON: {"time":"2026-11-21T08:00:00.123Z","level":"info","pid":1234,"msg":"message"}
#pragma once

#include <string>

namespace herald::net {

// Installs the stderr logger as spdlog's default. `program` names the process in each line.
void setup_logging(const std::string& program, bool json);

// "trace" | "debug" | "info" | "warn" | "error". False (level unchanged) for anything else.
bool set_log_level(const std::string& level);

}  // namespace herald::net
