// `herald`: the command-line tool for people at a terminal, in the way of mosquitto_pub/sub.
// main() only parses: each subcommand lives in its own cmd_*.cpp.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/commands.h"

using namespace herald::tools;

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    std::vector<PropertyArg> properties;
    std::string error = extract_property_args(args, properties);
    if (!error.empty()) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return 1;
    }

    CLI::App app{"herald: MQTT 3.1.1 / 5.0 command-line client", "herald"};
    app.require_subcommand(1);
    CommandRunner pub = add_pub_command(app);
    CommandRunner sub = add_sub_command(app);
    CommandRunner bench = add_bench_command(app);
    CommandRunner presence = add_presence_command(app);
    CommandRunner chat = add_chat_command(app);
    CommandRunner admin = add_admin_commands(app);

    // CLI11 takes a vector of arguments in reverse order, without the program name.
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    try {
        app.parse(std::move(reversed));
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (app.got_subcommand("pub")) return pub(properties);
    if (app.got_subcommand("sub")) return sub(properties);
    if (app.got_subcommand("bench")) return bench(properties);
    if (app.got_subcommand("presence")) return presence(properties);
    if (app.got_subcommand("chat")) return chat(properties);
    if (int status = admin(properties); status != kNotThisCommand) return status;
    return 1;
}
