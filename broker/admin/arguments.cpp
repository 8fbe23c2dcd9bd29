// Reading a command's arguments without exceptions: every accessor checks the JSON type
// first, and every failure is a sentence that names the argument and what it should be.
#include "broker/admin/commands.h"

namespace herald::admin::detail {
namespace {

const json* find(const json& command, const char* name) {
    auto it = command.find(name);
    if (it == command.end() || it->is_null()) return nullptr;
    return &*it;
}

std::string quoted(const char* name) { return std::string("\"") + name + "\""; }

}  // namespace

std::string arg_string(const json& command, const char* name, std::string& out) {
    const json* v = find(command, name);
    if (!v) return "argument " + quoted(name) + " is missing";
    if (!v->is_string()) return "argument " + quoted(name) + " must be a string";
    out = v->get_ref<const std::string&>();
    return {};
}

std::string arg_optional_string(const json& command, const char* name, std::string& out) {
    const json* v = find(command, name);
    if (!v) return {};
    if (!v->is_string()) return "argument " + quoted(name) + " must be a string";
    out = v->get_ref<const std::string&>();
    return {};
}

std::string arg_uint(const json& command, const char* name, uint64_t min, uint64_t max, uint64_t& out,
                     bool required) {
    const json* v = find(command, name);
    if (!v) return required ? "argument " + quoted(name) + " is missing" : std::string();
    std::string range = std::to_string(min) + ".." + std::to_string(max);
    uint64_t n = 0;
    if (v->is_number_unsigned()) {
        n = v->get<uint64_t>();
    } else if (v->is_number_integer()) {
        return "argument " + quoted(name) + " must be a whole number in " + range;  // negative
    } else if (v->is_number_float()) {
        double d = v->get<double>();
        // 30.0 is fine; 2.5 is not.
        if (!(d >= 0 && d <= 1.8e19) || static_cast<double>(static_cast<uint64_t>(d)) != d)
            return "argument " + quoted(name) + " must be a whole number in " + range;
        n = static_cast<uint64_t>(d);
    } else {
        return "argument " + quoted(name) + " must be a number";
    }
    if (n < min || n > max) return "argument " + quoted(name) + " must be in " + range;
    out = n;
    return {};
}

std::string arg_user(const Shared& shared, const json& command, const char* name, std::string& out) {
    if (std::string e = arg_string(command, name, out); !e.empty()) return e;
    if (std::string e = auth::user_id_error(out, shared.options.max_user_id_bytes); !e.empty())
        return "argument " + quoted(name) + " is not a valid user id: " + e;
    return {};
}

std::string arg_group(const Shared& shared, const json& command, std::string& out) {
    if (std::string e = arg_string(command, "group", out); !e.empty()) return e;
    if (std::string e = auth::group_name_error(out, shared.options.max_user_id_bytes); !e.empty())
        return "argument \"group\" is not a valid group name: " + e;
    return {};
}

std::string arg_page(const Shared& shared, const json& command, std::string& cursor, size_t& limit) {
    cursor.clear();
    if (std::string e = arg_optional_string(command, "cursor", cursor); !e.empty()) return e;
    uint64_t n = shared.options.default_page;
    if (std::string e = arg_uint(command, "limit", 1, shared.options.max_page, n, false); !e.empty()) return e;
    limit = static_cast<size_t>(n);
    return {};
}

Outcome store_failure(const storage::Status& status) {
    switch (status.code()) {
    case storage::Code::NotFound:
    case storage::Code::Exists:
    case storage::Code::Invalid:
        return Outcome::fail(status.message());
    default:
        return Outcome::fail("the store could not complete the command (" + status.message() +
                             "); nothing was changed: check the broker's disk and log, then try again");
    }
}

json cursor_json(const std::string& next) { return next.empty() ? json(nullptr) : json(next); }

}  // namespace herald::admin::detail
