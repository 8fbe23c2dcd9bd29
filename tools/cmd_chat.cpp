// `herald chat -u alice`: an interactive, line-oriented chat as one user (SPEC 3 topics).
//
// One persistent device (client id herald-chat-{user}, clean start off) so that messages sent
// while the user was away wait in its session and arrive, marked "(offline)", at the next login.
// The behaviour is in chat/chat_session.cpp, the terminal in chat/terminal.cpp; this file only
// reads the flags and wires them to the loop.
#include <cstdio>
#include <memory>

#include "tools/chat/chat_session.h"
#include "tools/chat/connection_flags.h"
#include "tools/chat/terminal.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

namespace herald::tools {

namespace {

struct ChatFlags {
    CommonFlags common;
    std::string session_expiry = "604800";  // a week, as the broker's stream ttl
};

struct ChatRun {
    chat::Terminal terminal;
    std::unique_ptr<chat::ChatSession> session;
    int status = kExitOk;
};

int run_chat(ChatFlags& f, const std::vector<PropertyArg>& property_args) {
    f.common.property_args = property_args;
    // --url may carry the user: read it before choosing the client id.
    CommonFlags probe = f.common;
    ConnectOptions options;
    PropertySets props;
    std::string error;
    if (!build_options(probe, "herald-chat", options, props, error)) {
        print_error(error);
        return kExitError;
    }
    if (!options.username || options.username->empty()) {
        print_error("herald chat needs a user (-u USER)");
        return kExitError;
    }
    const std::string me = *options.username;
    if (!chat::valid_id(me)) {
        print_error("invalid user id '" + me + "' (no / + # or control characters, 1..64 bytes)");
        return kExitError;
    }
    f.common.username = me;
    if (f.common.client_id.empty()) f.common.client_id = "herald-chat-" + me;
    f.common.no_clean = true;
    f.common.session_expiry = f.session_expiry;
    f.common.url.clear();  // already applied to `probe`; host, port and password copied below
    f.common.host = probe.host;
    f.common.port = probe.port;
    f.common.password = probe.password;
    props = PropertySets{};
    if (!build_options(f.common, "herald-chat", options, props, error)) {
        print_error(error);
        return kExitError;
    }

    auto run = std::make_unique<ChatRun>();
    ChatRun* r = run.get();
    int result = run_client(options, f.common.debug,
                            [r, me](Client& client, uv_loop_t* loop) {
                                r->session = std::make_unique<chat::ChatSession>(client, r->terminal, me);
                                chat::ChatSession* s = r->session.get();
                                r->terminal.on_line = [s](std::string line) { s->on_line(std::move(line)); };
                                r->terminal.on_eof = [s] { s->on_eof(); };
                                int rc = r->terminal.start(loop);
                                if (rc != 0) {
                                    print_error(std::string("cannot read stdin: ") + uv_strerror(rc));
                                    r->status = kExitError;
                                    client.close("no stdin");
                                    return;
                                }
                                client.on_connect = [r, s](const ConnectResult& result) {
                                    if (!result.ok) {
                                        r->terminal.close();
                                        print_connect_failure(result);
                                        r->status = kExitError;
                                        return;
                                    }
                                    s->on_connected();
                                };
                                client.on_message = [s](const mqtt::Publish& m, std::string_view topic) {
                                    s->on_message(m, topic);
                                };
                                client.on_publish_done = [s](uint16_t, mqtt::ReasonCode reason) {
                                    s->on_publish_done(reason);
                                };
                                client.on_close = [r, s](const CloseInfo& info) {
                                    bool failed_connect = r->status != kExitOk;
                                    if (failed_connect) {
                                        r->terminal.close();
                                        return;
                                    }
                                    s->on_closed(info);
                                    r->status = s->exit_status();
                                };
                            },
                            run->status);
    return result;
}

}  // namespace

CommandRunner add_chat_command(CLI::App& app) {
    auto flags = std::make_shared<ChatFlags>();
    CLI::App* cmd = app.add_subcommand("chat", "Interactive chat as one user: /to, /group, /status, /who");
    chat::add_connection_flags(*cmd, flags->common);
    cmd->add_option("-x,--session-expiry-interval", flags->session_expiry,
                    "How long the broker keeps this device's session, in seconds (5.0)")
        ->capture_default_str();
    cmd->footer(
        "Commands: /to USER, /group GROUP, /status available|away|busy|invisible [TEXT], /who, /help, /quit.\n"
        "A plain line is sent to the current target. The device's client id is herald-chat-USER unless -i.");
    return [flags](const std::vector<PropertyArg>& props) { return run_chat(*flags, props); };
}

}  // namespace herald::tools
