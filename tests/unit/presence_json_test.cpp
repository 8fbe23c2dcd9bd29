// The presence records as written by hand (presence_json.cpp) are, byte for byte, what
// nlohmann_json's dump() made of them before: each case is rendered both ways and compared.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "broker/core/presence_json.h"

using namespace herald::core;

namespace {

// The renderings of before (nlohmann::ordered_json, dump with invalid UTF-8 replaced).
std::string dump(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string record_reference(std::string_view user, const UserPresence& p, bool with_seq = true) {
    const bool shown = p.online && !p.invisible();
    const bool invisible = p.invisible();
    nlohmann::ordered_json j;
    j["user"] = user;
    j["state"] = shown ? "online" : "offline";
    j["status"] = invisible ? std::string("available") : p.status;
    j["text"] = invisible ? std::string() : p.text;
    j["devices"] = shown ? p.devices.size() : 0;
    j["since"] = invisible ? p.invisible_since_ms : p.since_ms;
    j["last_seen"] = invisible ? p.invisible_since_ms : p.last_seen_ms;
    if (with_seq) j["seq"] = p.seq;
    return dump(j);
}

std::string devices_reference(std::string_view user, const UserPresence& p) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const PresenceDevice& d : p.devices)
        list.push_back({{"client_id", d.client_id}, {"transport", d.transport}, {"protocol", d.protocol},
                        {"since", d.since_ms}});
    nlohmann::ordered_json j;
    j["user"] = user;
    j["devices"] = std::move(list);
    return dump(j);
}

}  // namespace

TEST_CASE("SPEC4 presence JSON written by hand is nlohmann's, byte for byte") {
    const std::vector<std::string> texts = {
        "",
        "In a meeting",
        "quote \" backslash \\ slash / tab \t newline \n cr \r bs \b ff \f",
        std::string("ctl \x01 \x1f del \x7f nul ") + '\0' + " end",
        "utf-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "bad utf-8: \xc3 \xff \xed\xa0\x80 end",  // nlohmann's replacement path
    };
    const std::vector<std::string> users = {"alice", "h\xc3\xa9l\xc3\xa8ne", "u\"q", "bad\xfe"};
    for (const std::string& user : users) {
        for (const std::string& text : texts) {
            for (const char* status : {"available", "away", "invisible"}) {
                for (bool online : {false, true}) {
                    UserPresence p;
                    p.status = status;
                    p.text = text;
                    p.online = online;
                    p.seq = 18446744073709551615ull;
                    p.since_ms = 1763700000123;
                    p.last_seen_ms = 1763700000000;
                    p.invisible_since_ms = 42;
                    if (online) {
                        p.devices.push_back({"phone", "tcp", 5, 1763700000123});
                        p.devices.push_back({"lap\ttop \xe2\x82\xac" + text, "ws", 4, 0});
                    }
                    CAPTURE(user);
                    CAPTURE(text);
                    CHECK(presence_record_json(user, p) == record_reference(user, p));
                    std::string without = presence_record_json(user, p, false);
                    CHECK(without == record_reference(user, p, false));
                    add_presence_seq(without, p.seq);
                    CHECK(without == record_reference(user, p));
                    CHECK(presence_devices_json(user, p) == devices_reference(user, p));
                }
            }
        }
    }
    UserPresence none;
    CHECK(presence_devices_json("zed", none) == R"({"user":"zed","devices":[]})");
}
