// The inside of the admin API: what one command handler gets (the Shared state, its command's
// JSON object, a callback for its answer), the argument readers that name a bad argument, and
// the handlers, one .cpp per concern (users, contacts_groups, bans_stats, presence_commands).
//
// A handler validates its arguments first (answering at once on a bad one), then posts store
// ops and answers from their completion. It calls `done` exactly once, on the loop thread.
// Before touching the store again from a later callback it checks `shared->alive`: the
// ControlApi (and with it, possibly, the store) may be gone by then.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "broker/admin/control_api.h"

namespace herald::admin::detail {

using json = nlohmann::json;

// One command's answer: `data`, or an error sentence a person can act on.
struct Outcome {
    json data;
    std::string error;
    static Outcome ok(json data) { return Outcome{std::move(data), {}}; }
    static Outcome fail(std::string error) { return Outcome{nullptr, std::move(error)}; }
};
using Answer = std::function<void(Outcome)>;

// What the ControlApi and its in-flight requests share.
struct Shared {
    Shared(storage::SqliteStore& s, uv_loop_t* l, const core::Clock& c, core::PresenceQuery* p, ControlApiOptions o)
        : store(s), loop(l), clock(c), presence(p ? p : &fallback_presence), options(o) {}
    storage::SqliteStore& store;
    uv_loop_t* loop;
    const core::Clock& clock;
    core::PresenceQuery* presence;
    ControlApiOptions options;
    core::PresenceQuery fallback_presence;  // answers "not available"
    ChangeListener fallback_listener;       // ignores
    ChangeListener* listener = &fallback_listener;
    bool alive = true;                      // false once the ControlApi is destroyed
    size_t in_flight = 0;                   // requests not answered yet
};
using SharedPtr = std::shared_ptr<Shared>;
using Handler = void (*)(const SharedPtr& shared, const json& command, Answer done);

// --- arguments (arguments.cpp). Each returns "" or the error sentence naming the argument. ---

// A required string argument.
std::string arg_string(const json& command, const char* name, std::string& out);
// An optional string argument: `out` keeps its value when the argument is absent (or null).
std::string arg_optional_string(const json& command, const char* name, std::string& out);
// A required (or optional: `out` kept) whole number within [min, max].
std::string arg_uint(const json& command, const char* name, uint64_t min, uint64_t max, uint64_t& out,
                     bool required);
// A required user id (argument `name`: "user" or "contact"), checked against SPEC 2's rules.
std::string arg_user(const Shared& shared, const json& command, const char* name, std::string& out);
// A required group name, checked against the same rules.
std::string arg_group(const Shared& shared, const json& command, std::string& out);
// `cursor` (optional string, "" = first page) and `limit` (1..max_page, default_page).
std::string arg_page(const Shared& shared, const json& command, std::string& cursor, size_t& limit);

// The answer for a failed store op: the store's own sentence for NotFound / Exists / Invalid,
// and a "try again" sentence for a database failure.
Outcome store_failure(const storage::Status& status);
// JSON null for an empty "next" (the last page), else the cursor.
json cursor_json(const std::string& next);

// --- handlers ---

// users.cpp
void create_user(const SharedPtr& shared, const json& command, Answer done);
void delete_user(const SharedPtr& shared, const json& command, Answer done);
void set_password(const SharedPtr& shared, const json& command, Answer done);
void list_users(const SharedPtr& shared, const json& command, Answer done);
// contacts_groups.cpp
void add_contact(const SharedPtr& shared, const json& command, Answer done);
void remove_contact(const SharedPtr& shared, const json& command, Answer done);
void list_contacts(const SharedPtr& shared, const json& command, Answer done);
void create_group(const SharedPtr& shared, const json& command, Answer done);
void delete_group(const SharedPtr& shared, const json& command, Answer done);
void add_group_member(const SharedPtr& shared, const json& command, Answer done);
void remove_group_member(const SharedPtr& shared, const json& command, Answer done);
void list_groups(const SharedPtr& shared, const json& command, Answer done);
// bans_stats.cpp
void ban_user(const SharedPtr& shared, const json& command, Answer done);
void unban_user(const SharedPtr& shared, const json& command, Answer done);
void get_stats(const SharedPtr& shared, const json& command, Answer done);
// stream_stats.cpp
void get_stream_stats(const SharedPtr& shared, const json& command, Answer done);
// presence_commands.cpp
void get_presence(const SharedPtr& shared, const json& command, Answer done);
void list_online(const SharedPtr& shared, const json& command, Answer done);
void kick_user(const SharedPtr& shared, const json& command, Answer done);

// The handler for a command name, or null when there is no such command.
Handler find_handler(const std::string& name);
// "createUser, deleteUser, ...": for the error about an unknown command.
std::string command_names();

}  // namespace herald::admin::detail
