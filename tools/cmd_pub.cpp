// `herald pub`: publish one message (-m, -f, -n, -s) or one per stdin line (-l), then
// disconnect once every QoS 1/2 message is acknowledged. Flags as mosquitto_pub.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "broker/mqtt/topic.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

namespace herald::tools {

namespace {

struct PubFlags {
    CommonFlags common;
    std::optional<std::string> message;
    std::string file;
    bool null_message = false;
    bool stdin_file = false;  // -s
    bool stdin_line = false;  // -l
    bool retain = false;
};

// One run of `herald pub`: the stdin reader (for -l) and the exit status.
struct PubRun {
    PubFlags* flags = nullptr;
    PropertySets props;
    Client* client = nullptr;
    std::string payload;       // the single message, when not -l
    std::string line_buffer;   // -l: bytes of a line not yet ended
    bool input_done = false;   // every message has been handed to the client
    bool stdin_async = false;  // -l on a pipe or terminal: read with libuv
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } in;
    bool in_open = false;
    int status = kExitOk;

    void publish(std::string_view payload_bytes) {
        const mqtt::Properties* p = client->version() == mqtt::ProtocolVersion::V5 ? &props.publish : nullptr;
        PublishStatus s = client->publish(flags->common.topics[0], payload_bytes, uint8_t(flags->common.qos),
                                          flags->retain, p);
        if (s == PublishStatus::NotConnected || s == PublishStatus::Invalid) {
            print_error("publish failed");
            status = kExitError;
        }
    }

    void maybe_finish() {
        if (input_done && client->state() == ClientState::Connected && client->inflight() == 0 &&
            client->queued() == 0)
            client->disconnect(mqtt::ReasonCode::Success, &props.disconnect);
    }

    void publish_lines(bool at_eof) {
        size_t start = 0;
        for (;;) {
            size_t nl = line_buffer.find('\n', start);
            if (nl == std::string::npos) break;
            if (nl > start) publish(std::string_view(line_buffer).substr(start, nl - start));
            start = nl + 1;
        }
        line_buffer.erase(0, start);
        if (at_eof && !line_buffer.empty()) {
            publish(line_buffer);
            line_buffer.clear();
        }
    }

    void start_stdin(uv_loop_t* loop) {
        uv_handle_type type = uv_guess_handle(0);
        auto* stream = reinterpret_cast<uv_stream_t*>(&in);
        if (type == UV_TTY) {
            uv_tty_init(loop, &in.tty, 0, 1);
        } else if (type == UV_NAMED_PIPE) {
            uv_pipe_init(loop, &in.pipe, 0);
            uv_pipe_open(&in.pipe, 0);
        } else {
            // A regular file (or /dev/null): plain blocking reads are fine.
            std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
            line_buffer = std::move(all);
            publish_lines(true);
            input_done = true;
            maybe_finish();
            return;
        }
        in_open = true;
        stream->data = this;
        uv_read_start(
            stream,
            [](uv_handle_t*, size_t, uv_buf_t* buf) {
                static char chunk[64 * 1024];
                *buf = uv_buf_init(chunk, sizeof chunk);
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                auto* run = static_cast<PubRun*>(s->data);
                if (n > 0) {
                    run->line_buffer.append(buf->base, size_t(n));
                    run->publish_lines(false);
                } else if (n < 0) {
                    run->publish_lines(true);
                    run->input_done = true;
                    uv_read_stop(s);
                    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
                    run->in_open = false;
                    run->maybe_finish();
                }
            });
    }
};

int run_pub(PubFlags& f, const std::vector<PropertyArg>& property_args) {
    f.common.property_args = property_args;
    ConnectOptions options;
    auto run = std::make_unique<PubRun>();
    run->flags = &f;
    std::string error;
    if (!build_options(f.common, "herald-pub", options, run->props, error)) {
        print_error(error);
        return kExitError;
    }
    if (f.common.topics.empty()) {
        print_error("a topic is needed (-t or --url)");
        return kExitError;
    }
    if (!mqtt::valid_topic_name(f.common.topics[0])) {
        print_error("invalid topic '" + f.common.topics[0] + "'");
        return kExitError;
    }
    int sources = int(f.message.has_value()) + int(!f.file.empty()) + int(f.null_message) + int(f.stdin_file) +
                  int(f.stdin_line);
    if (sources != 1) {
        print_error(sources == 0 ? "a message is needed: one of -m, -f, -n, -s, -l"
                                 : "only one of -m, -f, -n, -s, -l may be given");
        return kExitError;
    }
    if (f.message) {
        run->payload = *f.message;
    } else if (!f.file.empty()) {
        std::ifstream in(f.file, std::ios::binary);
        if (!in) {
            print_error("unable to open file '" + f.file + "'");
            return kExitError;
        }
        run->payload.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else if (f.stdin_file) {
        run->payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }

    PubRun* r = run.get();
    return run_client(options, f.common.debug,
                      [r](Client& client, uv_loop_t* loop) {
                          r->client = &client;
                          client.on_connect = [r, loop](const ConnectResult& result) {
                              if (!result.ok) {
                                  print_connect_failure(result);
                                  r->status = kExitError;
                                  return;
                              }
                              if (r->flags->stdin_line) {
                                  r->start_stdin(loop);
                              } else {
                                  r->publish(r->payload);
                                  r->input_done = true;
                                  r->maybe_finish();
                              }
                          };
                          client.on_publish_done = [r](uint16_t id, mqtt::ReasonCode reason) {
                              if (mqtt::is_error(reason)) {
                                  std::fprintf(stderr, "Warning: Publish %u failed: %s\n", unsigned(id),
                                               std::string(mqtt::reason_name(reason)).c_str());
                                  r->status = kExitError;
                              }
                              r->maybe_finish();
                          };
                          client.on_close = [r](const CloseInfo& info) {
                              if (r->in_open) {
                                  uv_close(reinterpret_cast<uv_handle_t*>(&r->in), nullptr);
                                  r->in_open = false;
                              }
                              if (info.clean || r->status != kExitOk) return;
                              // Closed before we were done: the connect error was already printed.
                              print_lost_connection(info);
                              r->status = kExitError;
                          };
                      },
                      run->status);
}

}  // namespace

CommandRunner add_pub_command(CLI::App& app) {
    auto flags = std::make_shared<PubFlags>();
    CLI::App* pub = app.add_subcommand("pub", "Publish a message (as mosquitto_pub)");
    add_common_flags(*pub, flags->common, false);
    pub->add_option("-m,--message", flags->message, "Message payload");
    pub->add_option("-f,--file", flags->file, "Send the contents of a file as the message");
    pub->add_flag("-n,--null-message", flags->null_message, "Send a zero-length message");
    pub->add_flag("-s,--stdin-file", flags->stdin_file, "Send all of stdin as one message");
    pub->add_flag("-l,--stdin-line", flags->stdin_line, "Send each line of stdin as a message");
    pub->add_flag("-r,--retain", flags->retain, "Retain the message");
    return [flags](const std::vector<PropertyArg>& props) { return run_pub(*flags, props); };
}

}  // namespace herald::tools
