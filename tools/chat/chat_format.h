// What `herald chat` prints and parses, as plain functions: where an incoming message comes
// from (by its topic, SPEC 3), its time (the broker's `ts` user property), the lines shown, and
// the slash commands typed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/mqtt/packets.h"
#include "tools/chat/presence_record.h"

namespace herald::tools::chat {

// Where a message came from, read from its topic as seen by user `me`.
struct Origin {
    enum class Kind : uint8_t {
        Direct,    // users/{me}/{from}[/rest]
        Group,     // groups/{group}/{from}[/rest]
        Presence,  // presence/{from}
        Other,     // any other topic
    };
    Kind kind = Kind::Other;
    std::string from, group, rest;
};
Origin classify_topic(std::string_view topic, std::string_view me);

// The broker's `ts` user property (ms since the epoch), or 0 when absent or not a number.
int64_t message_ts(const mqtt::Publish& message);

// "[12:03] bob: hello", "[12:03] #devs bob: hello", "[12:03] topic: payload"; " (offline)"
// appended for backlog. Payload and names are made printable.
std::string format_incoming(const Origin& origin, std::string_view topic, std::string_view payload,
                            int64_t time_ms, bool offline);

// "[12:03] me -> bob: hello" / "[12:03] me -> #devs: hello".
std::string format_outgoing(std::string_view target, bool group, std::string_view text, int64_t time_ms);

// "* bob is online", "* bob went offline (last seen 12:03)", "* bob is away: In a meeting";
// empty when nothing worth a line changed between `before` (null: first record) and `after`.
std::string format_presence_change(const PresenceRecord* before, const PresenceRecord& after);

// A typed line: "/to bob" -> {"to", "bob"}; a line not starting with '/' has an empty name.
// "//text" is the plain text "/text" (a way to send a line starting with a slash).
struct Command {
    std::string name;  // without the slash, lower case
    std::string args;  // the rest, trimmed
};
Command parse_command(std::string_view line);

// The /help text, one command per line.
std::string_view help_text();

}  // namespace herald::tools::chat
