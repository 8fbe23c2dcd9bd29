// The admin API's dispatch: parse a request, check the caller, run its commands one at a
// time in order, collect their answers, reply once. The commands themselves are in users.cpp,
// contacts_groups.cpp, bans_stats.cpp and presence_commands.cpp.
#include "broker/admin/control_api.h"

#include <exception>
#include <string_view>

#include "broker/admin/commands.h"

namespace herald::admin {

using detail::Answer;
using detail::Handler;
using detail::json;
using detail::Outcome;
using detail::SharedPtr;

namespace detail {

namespace {

struct Entry {
    const char* name;
    Handler handler;
};

// SPEC 7's commands, in the order the error for an unknown one lists them.
constexpr Entry kCommands[] = {
    {"createUser", create_user},   {"deleteUser", delete_user},
    {"setPassword", set_password}, {"listUsers", list_users},
    {"addContact", add_contact},   {"removeContact", remove_contact},
    {"listContacts", list_contacts}, {"createGroup", create_group},
    {"deleteGroup", delete_group}, {"addGroupMember", add_group_member},
    {"removeGroupMember", remove_group_member}, {"listGroups", list_groups},
    {"getPresence", get_presence}, {"listOnline", list_online},
    {"kickUser", kick_user},       {"banUser", ban_user},
    {"unbanUser", unban_user},     {"getStats", get_stats},
    {"getStreamStats", get_stream_stats},
};

}  // namespace

Handler find_handler(const std::string& name) {
    for (const Entry& e : kCommands)
        if (name == e.name) return e.handler;
    return nullptr;
}

std::string command_names() {
    std::string list;
    for (const Entry& e : kCommands) list += (list.empty() ? "" : ", ") + std::string(e.name);
    return list;
}

}  // namespace detail

namespace {

constexpr const char* kNotAuthorized = "not authorized: the admin role is needed";

// Invalid UTF-8 cannot come from the parser, but a stored name might hold anything: replace
// rather than throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string request_error(const std::string& error) {
    json r = json::object();
    r["responses"] = json::array();
    r["error"] = error;
    return dump(r);
}

// nlohmann's SAX interface hands the parse error over as an object without throwing it: the
// way to tell a person where the JSON went wrong while parsing without exceptions.
struct ErrorFinder : nlohmann::json_sax<json> {
    std::string message;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
        message = ex.what();
        // "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at ..."
        if (size_t close = message.find("] "); message.rfind("[json.", 0) == 0 && close != std::string::npos)
            message.erase(0, close + 2);
        return false;
    }
};

std::string parse_error_of(const std::string& text) {
    ErrorFinder finder;
    json::sax_parse(text, &finder, nlohmann::detail::input_format_t::json, true, false);
    return finder.message.empty() ? "parse error" : finder.message;
}

json answer_json(const json& command, const json& name, Outcome outcome) {
    json a = json::object();
    a["command"] = name;
    if (outcome.error.empty()) a["data"] = std::move(outcome.data);
    else a["error"] = std::move(outcome.error);
    if (command.is_object()) {
        auto it = command.find("correlationData");
        if (it != command.end()) a["correlationData"] = *it;
    }
    return a;
}

// One request on its way through its commands.
struct Request {
    SharedPtr shared;
    json commands;  // an array
    json responses = json::array();
    size_t next = 0;  // the command to run next
    std::function<void(std::string)> reply;
};
using RequestPtr = std::shared_ptr<Request>;

void finish(const RequestPtr& r) {
    --r->shared->in_flight;
    if (!r->shared->alive) return;  // whoever would have published the reply is gone
    json out = json::object();
    out["responses"] = std::move(r->responses);
    r->reply(dump(out));
}

// Runs commands from r->next until one answers later (its completion calls run() again) or
// all are answered. Handlers that answer at once (bad arguments) do not recurse.
void run(const RequestPtr& r) {
    while (r->next < r->commands.size()) {
        if (!r->shared->alive) {
            --r->shared->in_flight;
            return;
        }
        const json& command = r->commands[r->next];
        json name = nullptr;
        Handler handler = nullptr;
        Outcome immediate;
        if (!command.is_object()) {
            immediate = Outcome::fail("each command must be a JSON object with a \"command\" string");
        } else if (auto it = command.find("command"); it == command.end() || !it->is_string()) {
            immediate = Outcome::fail("each command needs a \"command\" string naming what to do");
        } else {
            name = *it;
            handler = detail::find_handler(it->get_ref<const std::string&>());
            if (!handler) {
                immediate = Outcome::fail("unknown command \"" + it->get_ref<const std::string&>() +
                                          "\"; the commands are " + detail::command_names());
            }
        }
        if (!handler) {
            r->responses.push_back(answer_json(command, name, std::move(immediate)));
            ++r->next;
            continue;
        }
        // 0: handler running; 1: it answered before returning; 2: it will answer later.
        auto phase = std::make_shared<int>(0);
        size_t index = r->next;
        Answer done = [r, phase, index, name](Outcome outcome) {
            r->responses.push_back(answer_json(r->commands[index], name, std::move(outcome)));
            ++r->next;
            if (*phase == 0) {
                *phase = 1;
                return;
            }
            // Called from a store completion or a worker's callback: a C callback's frame.
            try {
                run(r);
            } catch (const std::exception& e) {
                r->responses.push_back(answer_json(json(), nullptr, Outcome::fail(std::string("internal error: ") + e.what())));
                r->next = r->commands.size();
                finish(r);
            }
        };
        try {
            handler(r->shared, command, std::move(done));
        } catch (const std::exception& e) {
            if (*phase == 0) {
                *phase = 1;
                r->responses.push_back(answer_json(command, name, Outcome::fail(std::string("internal error: ") + e.what())));
                ++r->next;
            }
        }
        if (*phase == 1) continue;
        *phase = 2;
        return;
    }
    finish(r);
}

}  // namespace

ControlApi::ControlApi(storage::SqliteStore& store, uv_loop_t* loop, const core::Clock& clock,
                       core::PresenceQuery* presence, ControlApiOptions options)
    : shared_(std::make_shared<detail::Shared>(store, loop, clock, presence, options)) {}

void ControlApi::set_presence(core::PresenceQuery* presence) {
    shared_->presence = presence ? presence : &shared_->fallback_presence;
}

ControlApi::~ControlApi() { shared_->alive = false; }

size_t ControlApi::in_flight() const { return shared_->in_flight; }

void ControlApi::set_listener(ChangeListener* listener) {
    shared_->listener = listener ? listener : &shared_->fallback_listener;
}

void ControlApi::handle_in_loop(const core::ControlCaller& caller, std::string payload,
                                std::function<void(std::string response_json)> reply) {
    json request = json::parse(payload, nullptr, false);
    if (request.is_discarded()) return reply(request_error("request is not valid JSON: " + parse_error_of(payload)));
    auto commands = request.is_object() ? request.find("commands") : request.end();
    if (!request.is_object() || commands == request.end() || !commands->is_array())
        return reply(request_error(
            "a request must be a JSON object with a \"commands\" array, e.g. "
            "{\"commands\":[{\"command\":\"listUsers\"}]}"));
    if (commands->size() > shared_->options.max_commands)
        return reply(request_error("too many commands in one request (" + std::to_string(commands->size()) +
                                   "; at most " + std::to_string(shared_->options.max_commands) +
                                   "): split it into several requests"));
    if (!caller.admin) {
        // Refused as a whole: nothing runs, each command is told why.
        json responses = json::array();
        for (const json& c : *commands) {
            json name = nullptr;
            if (c.is_object())
                if (auto it = c.find("command"); it != c.end() && it->is_string()) name = *it;
            responses.push_back(answer_json(c, name, Outcome::fail(kNotAuthorized)));
        }
        json out = json::object();
        out["responses"] = std::move(responses);
        return reply(dump(out));
    }
    auto r = std::make_shared<Request>();
    r->shared = shared_;
    r->commands = std::move(*commands);
    r->reply = std::move(reply);
    ++shared_->in_flight;
    run(r);
}

}  // namespace herald::admin
