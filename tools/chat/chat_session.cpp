// The chat's behaviour: subscriptions at login, slash commands, sending to the current target,
// showing messages and presence changes, and a clean exit once everything sent is acknowledged.
#include "tools/chat/chat_session.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "tools/chat/chat_format.h"
#include "tools/chat/connection_flags.h"

namespace herald::tools::chat {

namespace {

constexpr std::array<std::string_view, 4> kStatuses = {"available", "away", "busy", "invisible"};

mqtt::Subscription qos1(std::string filter, bool no_local) {
    mqtt::Subscription s;
    s.filter = std::move(filter);
    s.options.qos = 1;
    s.options.no_local = no_local;
    return s;
}

}  // namespace

ChatSession::ChatSession(Client& client, Terminal& terminal, std::string me)
    : client_(client), terminal_(terminal), me_(std::move(me)) {
    update_prompt();
}

void ChatSession::update_prompt() {
    if (target_.empty()) terminal_.set_prompt(me_ + "> ");
    else terminal_.set_prompt(me_ + " -> " + (target_group_ ? "#" : "") + target_ + "> ");
}

void ChatSession::on_connected() {
    connected_ = true;
    login_ms_ = now_ms();
    info("connected as " + printable(me_) + " (device " + printable(client_.client_id()) + "); /help for commands");
    std::vector<std::string> filters = {"users/" + me_ + "/#", "presence/+"};
    std::vector<mqtt::Subscription> subs;
    for (const std::string& f : filters) subs.push_back(qos1(f, false));
    client_.subscribe(std::move(subs), [this, filters](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
        inbox_subscribed_ = true;
        for (size_t i = 0; i < reasons.size() && i < filters.size(); ++i)
            if (mqtt::is_error(reasons[i]))
                info("subscription to " + filters[i] + " refused: " + std::string(mqtt::reason_name(reasons[i])));
    });
    std::vector<std::string> lines = std::move(early_lines_);
    early_lines_.clear();
    for (const std::string& line : lines) run_line(line);
    if (quitting_) maybe_disconnect();
}

void ChatSession::on_message(const mqtt::Publish& m, std::string_view topic) {
    Origin o = classify_topic(topic, me_);
    if (o.kind == Origin::Kind::Presence) return on_presence(m, o.from);
    int64_t ts = message_ts(m);
    int64_t now = now_ms();
    bool before_suback = !inbox_subscribed_ || (o.kind == Origin::Kind::Group && pending_groups_.count(o.group));
    bool offline = (o.kind == Origin::Kind::Direct || o.kind == Origin::Kind::Group) &&
                   (before_suback || (ts > 0 && ts < login_ms_));
    if (o.kind == Origin::Kind::Group && o.from == me_) {
        // Our own group message: 5.0 subscriptions are no-local, so this is another device of
        // ours; 3.1.1 has no no-local, so it is our own echo, already shown.
        if (client_.version() != mqtt::ProtocolVersion::V5) return;
        terminal_.print(format_outgoing(o.group, true, *m.payload, ts > 0 ? ts : now));
        return;
    }
    terminal_.print(format_incoming(o, topic, *m.payload, ts > 0 ? ts : now, offline));
}

void ChatSession::on_presence(const mqtt::Publish& m, const std::string& user) {
    if (m.payload->empty()) {  // the retained record was cleared
        presence_.remove(user);
        return;
    }
    PresenceRecord rec;
    if (!parse_presence(*m.payload, user, rec)) {
        if (unreadable_.insert(user).second) info("unreadable presence record for " + printable(user));
        return;
    }
    PresenceRecord before;
    PresenceUpdate update = presence_.apply(rec, &before);
    if (update == PresenceUpdate::Stale || user == me_) return;
    const PresenceRecord* now = presence_.find(user);
    std::string line;
    if (update == PresenceUpdate::New) {
        // The retained snapshot at login: say who is online, not who is not.
        if (m.retain && !now->online()) return;
        line = format_presence_change(nullptr, *now);
    } else {
        line = format_presence_change(&before, *now);
    }
    if (!line.empty()) terminal_.print(line);
}

void ChatSession::on_publish_done(mqtt::ReasonCode reason) {
    // QoS 1 acknowledgements come in the order the messages were sent [MQTT-4.6.0-2].
    std::string what;
    if (!inflight_.empty()) {
        what = std::move(inflight_.front());
        inflight_.pop_front();
    }
    if (mqtt::is_error(reason)) info(what + " refused by the broker: " + std::string(mqtt::reason_name(reason)));
    if (quitting_) maybe_disconnect();
}

void ChatSession::on_closed(const CloseInfo& info) {
    closed_ = true;
    terminal_.close();
    // Clean: /quit, end of input, or SIGINT / SIGTERM (run_client disconnects cleanly).
    if (info.clean) return;
    std::string why = info.error.empty() ? std::string(mqtt::reason_name(info.reason)) : info.error;
    std::fprintf(stderr, "Error: connection lost: %s\n", why.c_str());
    status_ = 1;
}

void ChatSession::on_line(std::string line) {
    if (!connected_) {
        early_lines_.push_back(std::move(line));
        return;
    }
    run_line(line);
}

void ChatSession::on_eof() {
    quitting_ = true;
    if (connected_) maybe_disconnect();
}

void ChatSession::run_line(const std::string& line) {
    if (quitting_ && closed_) return;
    Command c = parse_command(line);
    if (c.name.empty()) {
        if (!c.args.empty()) send_text(c.args);
        return;
    }
    if (c.name == "to") cmd_to(c.args);
    else if (c.name == "group") cmd_group(c.args);
    else if (c.name == "status") cmd_status(c.args);
    else if (c.name == "who") cmd_who();
    else if (c.name == "help") terminal_.print(help_text());
    else if (c.name == "quit" || c.name == "exit") quit();
    else info("unknown command /" + printable(c.name) + " (/help lists them)");
}

void ChatSession::publish(const std::string& topic, const std::string& payload, std::string what) {
    PublishStatus st = client_.publish(topic, payload, 1, false);
    if (st == PublishStatus::Sent || st == PublishStatus::Queued) inflight_.push_back(std::move(what));
    else if (st == PublishStatus::NotConnected) info("not connected: " + what + " not sent");
    else info(what + " not sent: invalid topic " + printable(topic));
}

void ChatSession::send_text(const std::string& text) {
    if (target_.empty()) {
        info("no one to talk to yet: /to USER or /group GROUP first");
        return;
    }
    std::string topic = (target_group_ ? "groups/" : "users/") + target_ + "/" + me_;
    publish(topic, text, "message to " + std::string(target_group_ ? "#" : "") + target_);
    terminal_.print(format_outgoing(target_, target_group_, text, now_ms()));
}

void ChatSession::cmd_to(const std::string& args) {
    if (!valid_id(args)) {
        info(args.empty() ? "usage: /to USER" : "not a valid user id: " + printable(args));
        return;
    }
    target_ = args;
    target_group_ = false;
    std::string line = "talking to " + printable(args);
    if (const PresenceRecord* p = presence_.find(args)) line += " (" + describe_presence(*p, now_ms()) + ")";
    info(line);
    update_prompt();
}

void ChatSession::cmd_group(const std::string& args) {
    if (!valid_id(args)) {
        info(args.empty() ? "usage: /group GROUP" : "not a valid group id: " + printable(args));
        return;
    }
    target_ = args;
    target_group_ = true;
    update_prompt();
    if (groups_.count(args)) {
        info("talking to #" + printable(args));
        return;
    }
    std::string filter = "groups/" + args + "/#";
    bool v5 = client_.version() == mqtt::ProtocolVersion::V5;
    groups_.insert(args);
    pending_groups_.insert(args);
    client_.subscribe({qos1(filter, v5)}, [this, args](uint16_t, const std::vector<mqtt::ReasonCode>& reasons) {
        pending_groups_.erase(args);
        if (!reasons.empty() && mqtt::is_error(reasons[0])) {
            groups_.erase(args);
            info("joining #" + printable(args) + " refused: " + std::string(mqtt::reason_name(reasons[0])));
            return;
        }
        info("joined #" + printable(args));
    });
    info("talking to #" + printable(args));
}

void ChatSession::cmd_status(const std::string& args) {
    size_t space = args.find(' ');
    std::string status = args.substr(0, space);
    std::string text = space == std::string::npos ? "" : args.substr(space + 1);
    if (std::find(kStatuses.begin(), kStatuses.end(), status) == kStatuses.end()) {
        info("usage: /status available|away|busy|invisible [TEXT]");
        return;
    }
    nlohmann::json j = {{"status", status}, {"text", text}};
    publish("presence/" + me_, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "status");
    info("status: " + status + (text.empty() ? "" : " (" + printable(text) + ")"));
}

void ChatSession::cmd_who() {
    const auto& users = presence_.users();
    if (users.empty()) {
        info("no presence known yet");
        return;
    }
    size_t width = 0;
    for (const auto& [name, rec] : users) width = std::max(width, printable(name).size());
    int64_t now = now_ms();
    std::string out = "* who:";
    for (const auto& [name, rec] : users) {
        std::string shown = printable(name);
        shown.resize(width, ' ');
        out += "\n*   " + shown + "  " + printable(describe_presence(rec, now));
        if (name == me_) out += "  (you)";
    }
    terminal_.print(out);
}

void ChatSession::quit() {
    quitting_ = true;
    maybe_disconnect();
}

void ChatSession::maybe_disconnect() {
    if (client_.state() != ClientState::Connected) return;
    if (!inflight_.empty() || client_.queued() > 0) return;  // on_publish_done calls back
    terminal_.close();
    client_.disconnect();
}

}  // namespace herald::tools::chat
