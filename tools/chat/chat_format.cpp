// Lines of `herald chat`: message origins by topic, times, presence changes, slash commands.
#include "tools/chat/chat_format.h"

#include <cctype>
#include <charconv>

#include "tools/chat/terminal.h"

namespace herald::tools::chat {

namespace {

// Splits "a/b/c/d" into the first three levels and the rest ("d"); missing levels are empty.
void split_levels(std::string_view topic, std::string_view out[3], std::string_view& rest) {
    for (int i = 0; i < 3; ++i) {
        size_t slash = topic.find('/');
        if (slash == std::string_view::npos) {
            out[i] = topic;
            topic = {};
            for (int j = i + 1; j < 3; ++j) out[j] = {};
            rest = {};
            return;
        }
        out[i] = topic.substr(0, slash);
        topic.remove_prefix(slash + 1);
    }
    rest = topic;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string status_suffix(const PresenceRecord& r) {
    if (r.status.empty() || r.status == "available") return r.text.empty() ? "" : " (" + printable(r.text) + ")";
    return " (" + printable(r.status) + (r.text.empty() ? "" : ": " + printable(r.text)) + ")";
}

}  // namespace

Origin classify_topic(std::string_view topic, std::string_view me) {
    std::string_view level[3], rest;
    split_levels(topic, level, rest);
    Origin o;
    if (level[0] == "users" && level[1] == me && !level[2].empty()) {
        o.kind = Origin::Kind::Direct;
        o.from = level[2];
        o.rest = rest;
    } else if (level[0] == "groups" && !level[1].empty() && !level[2].empty()) {
        o.kind = Origin::Kind::Group;
        o.group = level[1];
        o.from = level[2];
        o.rest = rest;
    } else if (level[0] == "presence" && !level[1].empty() && level[2].empty() && topic.back() != '/') {
        o.kind = Origin::Kind::Presence;
        o.from = level[1];
    }
    return o;
}

int64_t message_ts(const mqtt::Publish& message) {
    for (const mqtt::UserProperty& p : message.props.user_properties) {
        if (p.key != "ts") continue;
        int64_t v = 0;
        auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), v);
        if (ec == std::errc() && end == p.value.data() + p.value.size() && v > 0) return v;
    }
    return 0;
}

std::string format_incoming(const Origin& o, std::string_view topic, std::string_view payload, int64_t time_ms,
                            bool offline) {
    std::string line = "[" + clock_time(time_ms) + "] ";
    switch (o.kind) {
    case Origin::Kind::Direct:
        line += printable(o.from);
        break;
    case Origin::Kind::Group:
        line += "#" + printable(o.group) + " " + printable(o.from);
        break;
    default:
        line += printable(topic);
        break;
    }
    if (!o.rest.empty()) line += " [" + printable(o.rest) + "]";  // a sub-topic, e.g. .../typing
    line += ": ";
    line += printable(payload);
    if (offline) line += " (offline)";
    return line;
}

std::string format_outgoing(std::string_view target, bool group, std::string_view text, int64_t time_ms) {
    return "[" + clock_time(time_ms) + "] me -> " + (group ? "#" : "") + printable(target) + ": " + printable(text);
}

std::string format_presence_change(const PresenceRecord* before, const PresenceRecord& after) {
    std::string who = "* " + printable(after.user);
    bool state_changed = !before || before->state != after.state;
    if (state_changed) {
        if (after.online()) return who + " is online" + status_suffix(after);
        if (after.state == "offline") {
            std::string line = who + " went offline";
            if (after.last_seen > 0) line += " (last seen " + clock_time(after.last_seen) + ")";
            return line;
        }
        if (after.state.empty()) return {};  // a bare status record: no state to report yet
        return who + " is " + printable(after.state);
    }
    if (after.online() && (before->status != after.status || before->text != after.text)) {
        std::string status = after.status.empty() ? "available" : printable(after.status);
        return who + " is " + status + (after.text.empty() ? "" : ": " + printable(after.text));
    }
    return {};
}

Command parse_command(std::string_view line) {
    Command c;
    if (line.size() < 2 || line[0] != '/' || line[1] == '/' || line[1] == ' ') {
        // Plain text; "//x" sends "/x".
        c.args = std::string(line.size() >= 2 && line[0] == '/' && line[1] == '/' ? line.substr(1) : line);
        return c;
    }
    line.remove_prefix(1);
    size_t space = line.find(' ');
    std::string_view name = line.substr(0, space);
    for (char ch : name) c.name += char(std::tolower(static_cast<unsigned char>(ch)));
    if (space != std::string_view::npos) c.args = std::string(trim(line.substr(space + 1)));
    return c;
}

std::string_view help_text() {
    return "* commands:\n"
           "*   /to USER             talk to USER (messages go to users/USER/<me>)\n"
           "*   /group GROUP         talk to GROUP (joins groups/GROUP/#)\n"
           "*   /status STATUS [TEXT]  set your status: available, away, busy, invisible\n"
           "*   /who                 who is online, as known so far\n"
           "*   /help                this text\n"
           "*   /quit                leave (Ctrl-D too)\n"
           "* any other line is sent to the current target; //text sends \"/text\"";
}

}  // namespace herald::tools::chat
