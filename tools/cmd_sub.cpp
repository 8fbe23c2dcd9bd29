// `herald sub`: subscribe to one or more filters and print each message (payload, -v, -F,
// --json) until interrupted, -C messages have arrived, or -W seconds have passed (status 27).
#include <cstdio>
#include <memory>

#include "broker/mqtt/topic.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/sub_output.h"

namespace herald::tools {

namespace {

struct SubFlags {
    CommonFlags common;
    bool verbose = false;
    std::string format;
    bool json = false;
    bool no_newline = false;
    int count = 0;    // -C: exit after this many messages (0: never)
    int timeout = 0;  // -W: exit after this many seconds (0: never)
    bool no_local = false;
    bool retain_as_published = false;
    int retain_handling = 0;
    bool no_retained = false;  // -R: do not print stale (retained) messages
};

struct SubRun {
    SubFlags* flags = nullptr;
    PropertySets props;
    OutputOptions output;
    Client* client = nullptr;
    uv_timer_t timer;
    bool timer_open = false;
    int received = 0;
    int status = kExitOk;
    bool done = false;  // -C reached, -W expired or all subscriptions refused
    std::string line;   // reused for every message
    uv_prepare_t flusher;
    bool unflushed = false;

    void finish(int exit_status) {
        if (done) return;
        done = true;
        status = exit_status;
        if (timer_open) uv_timer_stop(&timer);
        disconnect_when_idle();
    }

    // After -C, complete any inbound QoS 2 flow first, so the server does not keep the
    // message for a resend (on_inbound_released calls back here).
    void disconnect_when_idle() {
        if (done && client->inbound_pending() == 0 && client->state() == ClientState::Connected)
            client->disconnect(mqtt::ReasonCode::Success, &props.disconnect);
    }

    void on_message(const mqtt::Publish& m, std::string_view topic) {
        if (done) return;
        if (flags->no_retained && m.retain) return;
        line.clear();
        format_message(output, m, topic, line);
        std::fwrite(line.data(), 1, line.size(), stdout);
        unflushed = true;  // flushed once per loop turn (flusher), not once per message
        ++received;
        if (flags->count > 0 && received >= flags->count) finish(kExitOk);
    }

    void subscribe() {
        std::vector<mqtt::Subscription> subs;
        for (const std::string& t : flags->common.topics) {
            mqtt::Subscription s;
            s.filter = t;
            s.options.qos = uint8_t(flags->common.qos);
            s.options.no_local = flags->no_local;
            s.options.retain_as_published = flags->retain_as_published;
            s.options.retain_handling = uint8_t(flags->retain_handling);
            subs.push_back(std::move(s));
        }
        client->subscribe(
            std::move(subs),
            [this](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
                size_t refused = 0;
                for (size_t i = 0; i < reasons.size(); ++i) {
                    if (!mqtt::is_error(reasons[i])) continue;
                    ++refused;
                    std::fprintf(stderr, "Error: subscription to '%s' refused: %s\n",
                                 i < flags->common.topics.size() ? flags->common.topics[i].c_str() : "?",
                                 std::string(mqtt::reason_name(reasons[i])).c_str());
                }
                if (refused > 0 && refused == reasons.size()) {
                    std::fprintf(stderr, "Error: all subscription requests were denied\n");
                    finish(kExitError);
                }
            },
            client->version() == mqtt::ProtocolVersion::V5 ? &props.subscribe : nullptr);
    }
};

int run_sub(SubFlags& f, const std::vector<PropertyArg>& property_args) {
    f.common.property_args = property_args;
    ConnectOptions options;
    auto run = std::make_unique<SubRun>();
    run->flags = &f;
    std::string error;
    if (!build_options(f.common, "herald-sub", options, run->props, error)) {
        print_error(error);
        return kExitError;
    }
    if (f.common.topics.empty()) {
        print_error("at least one topic is needed (-t or --url)");
        return kExitError;
    }
    for (const std::string& t : f.common.topics) {
        if (!mqtt::valid_topic_filter(t)) {
            print_error("invalid topic '" + t + "'");
            return kExitError;
        }
    }
    if (int(f.verbose) + int(!f.format.empty()) + int(f.json) > 1) {
        print_error("only one of -v, -F, --json may be given");
        return kExitError;
    }
    run->output.mode = f.json ? OutputMode::Json
                       : !f.format.empty() ? OutputMode::Format
                       : f.verbose ? OutputMode::Verbose
                                   : OutputMode::Payload;
    run->output.format = f.format;
    run->output.newline = !f.no_newline;

    SubRun* r = run.get();
    return run_client(options, f.common.debug,
                      [r](Client& client, uv_loop_t* loop) {
                          r->client = &client;
                          // Output reaches a pipe before the loop waits again, in one write.
                          uv_prepare_init(loop, &r->flusher);
                          r->flusher.data = r;
                          uv_prepare_start(&r->flusher, [](uv_prepare_t* p) {
                              auto* run = static_cast<SubRun*>(p->data);
                              if (!run->unflushed) return;
                              run->unflushed = false;
                              std::fflush(stdout);
                          });
                          uv_unref(reinterpret_cast<uv_handle_t*>(&r->flusher));
                          if (r->flags->timeout > 0) {
                              uv_timer_init(loop, &r->timer);
                              r->timer.data = r;
                              r->timer_open = true;
                              uv_timer_start(
                                  &r->timer,
                                  [](uv_timer_t* t) {
                                      auto* run = static_cast<SubRun*>(t->data);
                                      std::fprintf(stderr, "Timed out\n");
                                      if (run->client->state() == ClientState::Connected) {
                                          run->finish(kExitTimeout);
                                          // Out of time: do not wait for half-done flows.
                                          run->client->disconnect(mqtt::ReasonCode::Success,
                                                                  &run->props.disconnect);
                                      } else {
                                          run->done = true;
                                          run->status = kExitTimeout;
                                          run->client->close("timed out");
                                      }
                                  },
                                  uint64_t(r->flags->timeout) * 1000, 0);
                          }
                          client.on_connect = [r](const ConnectResult& result) {
                              if (!result.ok) {
                                  print_connect_failure(result);
                                  r->status = kExitError;
                                  r->done = true;
                                  return;
                              }
                              r->subscribe();
                          };
                          client.on_inbound_released = [r] { r->disconnect_when_idle(); };
                          client.on_message = [r](const mqtt::Publish& m, std::string_view topic) {
                              r->on_message(m, topic);
                          };
                          client.on_close = [r](const CloseInfo& info) {
                              if (r->timer_open) {
                                  uv_close(reinterpret_cast<uv_handle_t*>(&r->timer), nullptr);
                                  r->timer_open = false;
                              }
                              if (r->done || info.clean) return;
                              print_lost_connection(info);
                              r->status = kExitError;
                          };
                      },
                      run->status);
}

}  // namespace

CommandRunner add_sub_command(CLI::App& app) {
    auto flags = std::make_shared<SubFlags>();
    CLI::App* sub = app.add_subcommand("sub", "Subscribe and print messages (as mosquitto_sub)");
    add_common_flags(*sub, flags->common, true);
    sub->add_flag("-v,--verbose", flags->verbose, "Print \"topic payload\"");
    sub->add_option("-F,--format", flags->format,
                    "Output format: %t topic, %p payload, %q qos, %r retain, %l length, %m id, %I ISO time, "
                    "%U unix time, %x hex, %j JSON, %% and \\n escapes");
    sub->add_flag("--json", flags->json, "One JSON object per message and line");
    sub->add_flag("-N", flags->no_newline, "Do not add a newline after each message");
    sub->add_option("-C,--count", flags->count, "Exit after this many messages")->check(CLI::PositiveNumber);
    sub->add_option("-W,--timeout", flags->timeout, "Exit with status 27 after this many seconds")
        ->check(CLI::PositiveNumber);
    sub->add_flag("-R,--no-retained", flags->no_retained, "Do not print retained messages");
    sub->add_flag("--nl,--no-local", flags->no_local, "No local (5.0): not our own messages");
    sub->add_flag("--rap,--retain-as-published", flags->retain_as_published, "Retain as published (5.0)");
    sub->add_option("--rh,--retain-handling", flags->retain_handling, "Retain handling 0, 1, 2 (5.0)")
        ->check(CLI::Range(0, 2));
    return [flags](const std::vector<PropertyArg>& props) { return run_sub(*flags, props); };
}

}  // namespace herald::tools
