// `herald presence [users...]`: watch `presence/{u}` records (SPEC 4) and show who is online.
//
// On a terminal: a table, one row per user, redrawn in place as events arrive and every second
// (relative times move on). Elsewhere: one line per event. --json: each record as received plus
// "topic". Stale records (seq lower than the last seen for that user) are dropped; a payload
// that is not a JSON object is reported once per topic and skipped.
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "tools/chat/connection_flags.h"
#include "tools/chat/presence_record.h"
#include "tools/chat/terminal.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

namespace herald::tools {

namespace {

using chat::PresenceRecord;
using chat::PresenceUpdate;

struct PresenceFlags {
    CommonFlags common;
    std::vector<std::string> users;
    bool json = false;
    int count = 0;    // -C: exit after this many events
    int timeout = 0;  // -W: exit with status 27 after this many seconds
};

// The terminal's size (columns, rows); 80 x 24 when it cannot be read.
std::pair<size_t, size_t> terminal_size() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) return {ws.ws_col, ws.ws_row};
    return {80, 24};
}

// Cuts a line to `width` code points, so that no row wraps and the in-place redraw can count rows.
void fit(std::string& line, size_t width) {
    size_t points = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
        if (++points > width) {
            line.resize(i);
            return;
        }
    }
}

struct PresenceRun {
    PresenceFlags* flags = nullptr;
    Client* client = nullptr;
    chat::PresenceBook book;
    bool tty = false;
    int events = 0;
    int status = kExitOk;
    bool done = false;
    std::set<std::string> warned;  // topics whose unreadable record was reported
    std::string note;              // the view's last line: the latest warning
    size_t drawn_rows = 0;
    uv_timer_t timeout_timer, refresh_timer;
    bool timeout_open = false, refresh_open = false;

    void finish(int exit_status) {
        if (done) return;
        done = true;
        status = exit_status;
        stop_timers();
        if (client->state() == ClientState::Connected) client->disconnect();
        else client->close("done");
    }

    void stop_timers() {
        for (auto [timer, open] : {std::pair{&timeout_timer, &timeout_open}, std::pair{&refresh_timer, &refresh_open}}) {
            if (!*open) continue;
            uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
            *open = false;
        }
    }

    void warn_unreadable(std::string_view topic) {
        if (!warned.insert(std::string(topic)).second) return;
        std::string text = "unreadable presence record on " + chat::printable(topic) + " (ignored)";
        if (tty) {
            note = "! " + text;
            render();
        } else {
            std::fprintf(stderr, "Warning: %s\n", text.c_str());
        }
    }

    void on_message(const mqtt::Publish& m, std::string_view topic) {
        if (done) return;
        std::string user = chat::presence_topic_user(topic);
        if (user.empty()) return;  // not a presence/{u} topic (a broad ACL may add others)
        const std::string& payload = *m.payload;
        if (payload.empty()) {     // the retained record was cleared
            book.remove(user);
            emit_removed(topic, user);
            return count_event();
        }
        PresenceRecord rec;
        if (!chat::parse_presence(payload, user, rec)) return warn_unreadable(topic);
        if (book.apply(rec) == PresenceUpdate::Stale) return;
        if (flags->json) {
            // ordered_json: the record is shown with its fields in the order the broker sent them.
            nlohmann::ordered_json j = nlohmann::ordered_json::parse(payload, nullptr, false);
            j["topic"] = std::string(topic);
            std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            std::printf("%s\n", out.c_str());
        } else if (tty) {
            render();
        } else {
            std::printf("%s  %s\n", chat::printable(rec.user).c_str(),
                        chat::printable(chat::describe_presence(rec, chat::now_ms())).c_str());
        }
        std::fflush(stdout);
        count_event();
    }

    void emit_removed(std::string_view topic, const std::string& user) {
        if (flags->json) {
            nlohmann::ordered_json j = {{"topic", std::string(topic)}, {"user", user}, {"removed", true}};
            std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        } else if (tty) {
            render();
        } else {
            std::printf("%s  (no presence record)\n", chat::printable(user).c_str());
        }
        std::fflush(stdout);
    }

    void count_event() {
        ++events;
        if (flags->count > 0 && events >= flags->count) finish(kExitOk);
    }

    // Redraws the table where it was: up to its first row, each row cleared, the rest erased.
    void render() {
        if (!tty || flags->json) return;
        int64_t now = chat::now_ms();
        std::vector<std::array<std::string, 6>> rows;
        rows.push_back({"USER", "STATE", "STATUS", "TEXT", "DEVICES", "SINCE / LAST SEEN"});
        for (const auto& [name, rec] : book.users()) {
            chat::PresenceColumns c = chat::presence_columns(rec, now);
            rows.push_back({chat::printable(name), c.state, chat::printable(c.status), chat::printable(c.text),
                            c.devices, c.when});
        }
        std::array<size_t, 6> width{};
        for (const auto& r : rows)
            for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
        auto [cols, height] = terminal_size();
        // The cursor cannot move above the screen's top row: a table taller than the screen
        // could not be redrawn in place, so it shows what fits and counts the rest.
        size_t room = height > 4 ? height - 2 - (note.empty() ? 0 : 1) : 2;
        size_t hidden = 0;
        if (rows.size() > room) {
            hidden = rows.size() - (room - 1);
            rows.resize(room - 1);
        }
        std::string out;
        for (size_t i = 0; i < drawn_rows; ++i) out += "\x1b[A";
        out += "\r";
        size_t count = 0;
        auto put_line = [&](std::string line, bool bold = false) {
            while (!line.empty() && line.back() == ' ') line.pop_back();
            fit(line, cols - 1);
            out += bold ? "\x1b[1m" + line + "\x1b[0m" : line;
            out += "\x1b[K\n";
            ++count;
        };
        for (size_t n = 0; n < rows.size(); ++n) {
            std::string line;
            for (size_t i = 0; i < rows[n].size(); ++i) {
                line += rows[n][i];
                line.append(width[i] - rows[n][i].size() + 2, ' ');
            }
            put_line(std::move(line), n == 0);
        }
        if (rows.size() == 1) put_line("(no presence records yet)");
        if (hidden > 0) put_line("... and " + std::to_string(hidden) + " more (use --json or name the users)");
        if (!note.empty()) put_line(note);
        out += "\x1b[J";
        drawn_rows = count;
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    }

    void subscribe() {
        std::vector<mqtt::Subscription> subs;
        std::vector<std::string> filters;
        if (flags->users.empty()) filters.push_back("presence/+");
        for (const std::string& u : flags->users) filters.push_back("presence/" + u);
        for (const std::string& f : filters) {
            mqtt::Subscription s;
            s.filter = f;
            s.options.qos = 1;
            subs.push_back(std::move(s));
        }
        client->subscribe(std::move(subs), [this, filters](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
            size_t refused = 0;
            for (size_t i = 0; i < reasons.size(); ++i) {
                if (!mqtt::is_error(reasons[i])) continue;
                ++refused;
                std::fprintf(stderr, "Error: subscription to '%s' refused: %s\n",
                             i < filters.size() ? filters[i].c_str() : "?",
                             std::string(mqtt::reason_name(reasons[i])).c_str());
            }
            if (refused > 0 && refused == reasons.size()) finish(kExitError);
        });
    }

    void start_timers(uv_loop_t* loop) {
        if (flags->timeout > 0) {
            uv_timer_init(loop, &timeout_timer);
            timeout_timer.data = this;
            timeout_open = true;
            uv_timer_start(
                &timeout_timer,
                [](uv_timer_t* t) {
                    auto* run = static_cast<PresenceRun*>(t->data);
                    if (!run->tty) std::fprintf(stderr, "Timed out\n");
                    run->finish(kExitTimeout);
                },
                uint64_t(flags->timeout) * 1000, 0);
        }
        if (tty && !flags->json) {
            uv_timer_init(loop, &refresh_timer);
            refresh_timer.data = this;
            refresh_open = true;
            uv_timer_start(&refresh_timer, [](uv_timer_t* t) { static_cast<PresenceRun*>(t->data)->render(); },
                           1000, 1000);
        }
    }
};

int run_presence(PresenceFlags& f, const std::vector<PropertyArg>& property_args) {
    f.common.property_args = property_args;
    ConnectOptions options;
    PropertySets props;
    std::string error;
    if (!build_options(f.common, "herald-presence", options, props, error)) {
        print_error(error);
        return kExitError;
    }
    for (const std::string& u : f.users) {
        if (!chat::valid_id(u)) {
            print_error("invalid user id '" + u + "' (no / + # or control characters, 1..64 bytes)");
            return kExitError;
        }
    }
    auto run = std::make_unique<PresenceRun>();
    run->flags = &f;
    run->tty = isatty(STDOUT_FILENO) && !f.json;
    PresenceRun* r = run.get();
    return run_client(options, f.common.debug,
                      [r](Client& client, uv_loop_t* loop) {
                          r->client = &client;
                          r->start_timers(loop);
                          client.on_connect = [r](const ConnectResult& result) {
                              if (!result.ok) {
                                  print_connect_failure(result);
                                  r->status = kExitError;
                                  r->done = true;
                                  r->stop_timers();
                                  return;
                              }
                              r->render();
                              r->subscribe();
                          };
                          client.on_message = [r](const mqtt::Publish& m, std::string_view topic) {
                              r->on_message(m, topic);
                          };
                          client.on_close = [r](const CloseInfo& info) {
                              r->stop_timers();
                              if (r->done || info.clean) return;
                              print_lost_connection(info);
                              r->status = kExitError;
                          };
                      },
                      run->status);
}

}  // namespace

CommandRunner add_presence_command(CLI::App& app) {
    auto flags = std::make_shared<PresenceFlags>();
    CLI::App* cmd = app.add_subcommand("presence", "Watch who is online (presence/{user} records), live");
    chat::add_connection_flags(*cmd, flags->common);
    cmd->add_option("users", flags->users, "Users to watch (default: every user you may see, presence/+)");
    cmd->add_flag("--json", flags->json, "One JSON object per event: the record as received plus \"topic\"");
    cmd->add_option("-C,--count", flags->count, "Exit after this many events")->check(CLI::PositiveNumber);
    cmd->add_option("-W,--timeout", flags->timeout, "Exit with status 27 after this many seconds")
        ->check(CLI::PositiveNumber);
    return [flags](const std::vector<PropertyArg>& props) { return run_presence(*flags, props); };
}

}  // namespace herald::tools
