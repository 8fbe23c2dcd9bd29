// Admin commands answered by the broker's live state through core::PresenceQuery:
// getPresence, listOnline (paged), kickUser. Until the presence issue implements that
// interface, its defaults answer "presence is not available in this version".
#include "broker/admin/commands.h"

namespace herald::admin::detail {
namespace {

// Turns PresenceQuery's (error, data_json) into an Outcome; a data text that does not parse
// is the implementer's bug, reported rather than passed on.
core::PresenceQuery::Answer to_answer(Answer done) {
    return [done = std::move(done)](std::string error, std::string data_json) {
        if (!error.empty()) return done(Outcome::fail(std::move(error)));
        if (data_json.empty()) return done(Outcome::ok(json::object()));
        json data = json::parse(data_json, nullptr, false);
        if (data.is_discarded()) return done(Outcome::fail("internal error: the broker's answer was not valid JSON"));
        done(Outcome::ok(std::move(data)));
    };
}

}  // namespace

void get_presence(const SharedPtr& sh, const json& command, Answer done) {
    std::string user;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->presence->get_presence_in_loop(user, to_answer(std::move(done)));
}

void list_online(const SharedPtr& sh, const json& command, Answer done) {
    std::string cursor;
    size_t limit = 0;
    if (std::string e = arg_page(*sh, command, cursor, limit); !e.empty()) return done(Outcome::fail(e));
    sh->presence->list_online_in_loop(cursor, limit, to_answer(std::move(done)));
}

void kick_user(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, reason;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_optional_string(command, "reason", reason); !e.empty()) return done(Outcome::fail(e));
    sh->presence->kick_user_in_loop(user, reason, to_answer(std::move(done)));
}

}  // namespace herald::admin::detail
