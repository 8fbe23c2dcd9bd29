// The MQTT side of the `herald` admin commands (see cmd_admin_call.h). Answers for other
// admins' requests arrive on the same response topic: ours is recognised by the
// correlationData field the broker echoes in each answer.
#include "tools/cmd_admin_call.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <random>

#include "tools/chat/connection_flags.h"

namespace herald::tools::admin {

using nlohmann::json;

namespace {

constexpr const char* kRequestTopic = "$CONTROL/herald/v1";
constexpr const char* kResponseTopic = "$CONTROL/herald/v1/response";

struct CallRun {
    AdminFlags* flags = nullptr;
    const OnData* on_data = nullptr;
    Client* client = nullptr;
    json command;
    std::string correlation;  // of the request in flight
    std::string id_prefix;
    int sent = 0;
    uv_timer_t timer;
    bool timer_open = false;
    bool done = false;
    int status = kExitOk;

    void finish(int exit_status) {
        if (done) return;
        done = true;
        status = exit_status;
        if (timer_open) uv_timer_stop(&timer);
        if (client->state() == ClientState::Connected) client->disconnect();
        else client->close("done");
    }

    void arm_timer() {
        if (!timer_open) return;
        uv_timer_start(
            &timer,
            [](uv_timer_t* t) {
                auto* run = static_cast<CallRun*>(t->data);
                print_error("no answer from the broker within " + std::to_string(run->flags->timeout) +
                            " s (does it serve $CONTROL/herald/v1, and has this user the admin role?)");
                run->finish(kExitTimeout);
            },
            uint64_t(flags->timeout) * 1000, 0);
    }

    void send() {
        correlation = id_prefix + "-" + std::to_string(++sent);
        command["correlationData"] = correlation;
        json request = {{"commands", json::array({command})}};
        std::string text = request.dump(-1, ' ', false, json::error_handler_t::replace);
        PublishStatus ps = client->publish(kRequestTopic, text, 1, false);
        if (ps != PublishStatus::Sent && ps != PublishStatus::Queued) {
            print_error("the request could not be sent");
            return finish(kExitError);
        }
        arm_timer();
    }

    void on_message(const mqtt::Publish& m, std::string_view topic) {
        if (done || topic != kResponseTopic) return;
        json response = json::parse(m.payload ? std::string_view(*m.payload) : std::string_view(), nullptr, false);
        if (response.is_discarded() || !response.is_object()) return;
        auto responses = response.find("responses");
        if (responses == response.end() || !responses->is_array()) return;
        for (const json& answer : *responses) {
            if (!answer.is_object()) continue;
            auto c = answer.find("correlationData");
            if (c == answer.end() || !c->is_string() || c->get_ref<const std::string&>() != correlation) continue;
            return on_answer(answer);
        }
    }

    void on_answer(const json& answer) {
        if (flags->json) {
            json shown = answer;
            shown.erase("correlationData");
            std::printf("%s\n", shown.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
        }
        auto error = answer.find("error");
        if (error != answer.end()) {
            if (!flags->json) print_error(error->is_string() ? error->get<std::string>() : error->dump());
            return finish(kExitError);
        }
        auto data = answer.find("data");
        std::optional<json> next = (*on_data)(data == answer.end() ? json(nullptr) : *data);
        std::fflush(stdout);
        if (!next) return finish(kExitOk);
        command = std::move(*next);
        send();
    }
};

}  // namespace

void add_admin_flags(CLI::App& app, AdminFlags& f) {
    chat::add_connection_flags(app, f.common);
    app.add_option("-W,--timeout", f.timeout, "Seconds to wait for the broker's answer (exit 27 after)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_flag("--json", f.json, "Print the broker's answer as JSON");
}

int call_admin(AdminFlags& flags, json command, const OnData& on_data) {
    ConnectOptions options;
    PropertySets props;
    std::string error;
    if (!build_options(flags.common, "herald-admin", options, props, error)) {
        print_error(error);
        return kExitError;
    }
    auto run = std::make_unique<CallRun>();
    run->flags = &flags;
    run->on_data = &on_data;
    run->command = std::move(command);
    std::random_device rd;
    run->id_prefix = "herald-" + std::to_string(getpid()) + "-" + std::to_string(rd());
    CallRun* r = run.get();
    return run_client(
        options, flags.common.debug,
        [r](Client& client, uv_loop_t* loop) {
            r->client = &client;
            uv_timer_init(loop, &r->timer);
            r->timer.data = r;
            r->timer_open = true;
            r->arm_timer();  // also bounds the connect and the subscription
            client.on_connect = [r](const ConnectResult& result) {
                if (!result.ok) {
                    print_connect_failure(result);
                    r->status = kExitError;
                    r->done = true;
                    if (r->timer_open) uv_timer_stop(&r->timer);
                    return;
                }
                mqtt::Subscription s;
                s.filter = kResponseTopic;
                s.options.qos = 1;
                r->client->subscribe({s}, [r](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
                    if (reasons.empty() || mqtt::is_error(reasons[0])) {
                        print_error(std::string("not authorized: the broker refused the subscription to ") +
                                    kResponseTopic + " (the admin role is needed)");
                        return r->finish(kExitError);
                    }
                    r->send();
                });
            };
            client.on_publish_done = [r](uint16_t, mqtt::ReasonCode reason) {
                if (!mqtt::is_error(reason)) return;
                print_error(std::string("the broker refused the request: ") + std::string(mqtt::reason_name(reason)) +
                            " (the admin role is needed)");
                r->finish(kExitError);
            };
            client.on_message = [r](const mqtt::Publish& m, std::string_view topic) { r->on_message(m, topic); };
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

}  // namespace herald::tools::admin
