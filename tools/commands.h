// The subcommands of `herald`: each adds itself to the app and returns the function that runs
// it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

#include "tools/cli_properties.h"

namespace herald::tools {

// Runs the parsed subcommand; `properties` are the -D groups lifted out of argv.
using CommandRunner = std::function<int(const std::vector<PropertyArg>& properties)>;

CommandRunner add_pub_command(CLI::App& app);
CommandRunner add_sub_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_presence_command(CLI::App& app);
CommandRunner add_chat_command(CLI::App& app);
// user, contact, group, ban, unban, stats (cmd_admin.cpp): one runner for all of them; it
// returns kNotThisCommand when none of them was given.
constexpr int kNotThisCommand = -1;
CommandRunner add_admin_commands(CLI::App& app);

}  // namespace herald::tools
