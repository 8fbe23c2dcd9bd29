// The TOML configuration file -> core::Config.
//
// Every key of core::Config has the same name at the top level of the file, plus an array of
// [[listeners]] tables. Unknown keys are errors (a typo must not be silently ignored), and
// every error names the file and the line: "herald.toml:12: unknown key 'max_packet_sise'".
#pragma once

#include <string>
#include <string_view>

#include "broker/core/config.h"

namespace herald::config {

// Reads and parses `path`. On success replaces `out` entirely; on failure leaves `out`
// untouched and sets `error` to one line a person can act on.
bool load_config_file(const std::string& path, core::Config& out, std::string& error);

// Parses `text`; `origin` is the file name used in error messages, and its directory is the
// base of relative paths (acl_file, password_file, data_dir, unix socket paths).
// A file without [[listeners]] gets one: tcp 127.0.0.1:1883. allow_anonymous defaults to false.
bool parse_config(std::string_view text, const std::string& origin, core::Config& out,
                  std::string& error);

}  // namespace herald::config
