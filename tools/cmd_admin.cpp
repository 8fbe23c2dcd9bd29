// The `herald` admin commands (SPEC 7, 8): `herald user add|del|passwd|list`, `herald contact
// add|del|list`, `herald group create|del|add|remove|list`, `herald ban`, `herald unban`,
// `herald stats`, `herald pending` (what waits for a user), `herald kick`, `herald online`, `herald whois`. Each builds one admin API command and prints its answer for a person
// (or, with --json, as the broker sent it); the exchange itself is in cmd_admin_call.cpp.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/cmd_admin_call.h"
#include "tools/commands.h"

namespace herald::tools {

using nlohmann::json;
using admin::AdminFlags;
using admin::OnData;

namespace {

// What the admin subcommands' arguments are parsed into (only one subcommand runs).
struct AdminArgs {
    AdminFlags flags;
    std::string first, second;        // positional names: user / group, then contact / user
    std::optional<std::string> password;
    std::string role = "user";
    uint64_t seconds = 0;
    std::string reason;
    int limit = 100;
    std::string user;                 // group list --user
    std::string cursor;               // online --cursor
};

// One subcommand: its CLI node, the command it sends, and how its answer is shown.
struct Leaf {
    CLI::App* app;
    std::function<bool(AdminArgs&, json& command)> build;  // false: usage error (printed)
    OnData print;
};

// Reads a password: from the terminal without echo (asked twice), or one line of stdin.
bool read_password(const std::string& user, std::string& out) {
    auto read_line = [](std::string& line) { return static_cast<bool>(std::getline(std::cin, line)); };
    if (!isatty(STDIN_FILENO)) {
        if (!read_line(out) || out.empty()) {
            print_error("no password: give --password, or one line on standard input");
            return false;
        }
        return true;
    }
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string again;
    std::fprintf(stderr, "Password for %s: ", user.c_str());
    bool ok = read_line(out);
    std::fprintf(stderr, "\nAgain: ");
    ok = ok && read_line(again);
    std::fprintf(stderr, "\n");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (!ok || out.empty()) {
        print_error("no password given");
        return false;
    }
    if (out != again) {
        print_error("the passwords do not match");
        return false;
    }
    return true;
}

std::string str(const json& data, const char* key) {
    auto it = data.find(key);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// For a command whose answer needs one line: `text(data)`.
OnData say(std::function<std::string(const json&)> text) {
    return [text = std::move(text)](const json& data) -> std::optional<json> {
        std::printf("%s\n", text(data).c_str());
        return std::nullopt;
    };
}

// For a paged list: prints each page's items and asks for the next while there is one.
OnData pages(json command, const char* items, std::function<void(const json&)> print_item) {
    return [command, items, print_item = std::move(print_item)](const json& data) -> std::optional<json> {
        auto list = data.find(items);
        if (list != data.end() && list->is_array())
            for (const json& item : *list) print_item(item);
        auto cursor = data.find("cursor");
        if (cursor == data.end() || !cursor->is_string()) return std::nullopt;
        json next = command;
        next["cursor"] = *cursor;
        return next;
    };
}

std::string joined(const json& names) {
    std::string out;
    if (names.is_array())
        for (const json& n : names) out += (out.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : n.dump());
    return out;
}

void add_user_commands(CLI::App& app, AdminArgs& a, std::vector<Leaf>& leaves) {
    CLI::App* user = app.add_subcommand("user", "Manage users (admin API)");
    user->require_subcommand(1);

    CLI::App* add = user->add_subcommand("add", "Create a user (password from --password, else asked)");
    add->add_option("name", a.first, "User id")->required();
    add->add_option("--password", a.password, "Password (else asked on the terminal, or read from stdin)");
    add->add_option("--role", a.role, "admin or user")->capture_default_str()->check(CLI::IsMember({"admin", "user"}));
    leaves.push_back({add, [](AdminArgs& a, json& c) {
        if (!a.password && !read_password(a.first, a.password.emplace())) return false;
        c = {{"command", "createUser"}, {"user", a.first}, {"password", *a.password}, {"role", a.role}};
        return true;
    }, say([](const json& d) { return "created user '" + str(d, "user") + "' (role " + str(d, "role") + ")"; })});

    CLI::App* del = user->add_subcommand("del", "Delete a user");
    del->add_option("name", a.first, "User id")->required();
    leaves.push_back({del, [](AdminArgs& a, json& c) {
        c = {{"command", "deleteUser"}, {"user", a.first}};
        return true;
    }, say([](const json& d) { return "deleted user '" + str(d, "user") + "'"; })});

    CLI::App* passwd = user->add_subcommand("passwd", "Set a user's password");
    passwd->add_option("name", a.first, "User id")->required();
    passwd->add_option("--password", a.password, "New password (else asked on the terminal, or read from stdin)");
    leaves.push_back({passwd, [](AdminArgs& a, json& c) {
        if (!a.password && !read_password(a.first, a.password.emplace())) return false;
        c = {{"command", "setPassword"}, {"user", a.first}, {"password", *a.password}};
        return true;
    }, say([](const json& d) { return "changed the password of '" + str(d, "user") + "'"; })});

    CLI::App* list = user->add_subcommand("list", "List users and their roles");
    list->add_option("--limit", a.limit, "Users per request")->capture_default_str()->check(CLI::Range(1, 1000));
    leaves.push_back({list, [](AdminArgs& a, json& c) {
        c = {{"command", "listUsers"}, {"limit", a.limit}};
        return true;
    }, {}});
}

void add_contact_commands(CLI::App& app, AdminArgs& a, std::vector<Leaf>& leaves) {
    CLI::App* contact = app.add_subcommand("contact", "Manage contacts (admin API)");
    contact->require_subcommand(1);
    for (const char* verb : {"add", "del"}) {
        bool adding = std::string(verb) == "add";
        CLI::App* sub = contact->add_subcommand(verb, adding ? "Make two users contacts (both ways)"
                                                             : "Remove a contact (both ways)");
        sub->add_option("user", a.first, "User id")->required();
        sub->add_option("contact", a.second, "The other user id")->required();
        leaves.push_back({sub, [adding](AdminArgs& a, json& c) {
            c = {{"command", adding ? "addContact" : "removeContact"}, {"user", a.first}, {"contact", a.second}};
            return true;
        }, say([adding](const json& d) {
            return "'" + str(d, "user") + "' and '" + str(d, "contact") + (adding ? "' are contacts" : "' are no longer contacts");
        })});
    }
    CLI::App* list = contact->add_subcommand("list", "List a user's contacts");
    list->add_option("user", a.first, "User id")->required();
    leaves.push_back({list, [](AdminArgs& a, json& c) {
        c = {{"command", "listContacts"}, {"user", a.first}};
        return true;
    }, [](const json& d) -> std::optional<json> {
        auto contacts = d.find("contacts");
        if (contacts != d.end() && contacts->is_array())
            for (const json& name : *contacts) std::printf("%s\n", name.is_string() ? name.get<std::string>().c_str() : "");
        return std::nullopt;
    }});
}

void add_group_commands(CLI::App& app, AdminArgs& a, std::vector<Leaf>& leaves) {
    CLI::App* group = app.add_subcommand("group", "Manage groups (admin API)");
    group->require_subcommand(1);
    struct Simple {
        const char* verb;
        const char* help;
        const char* command;
        bool member;
        const char* done;
    };
    for (const Simple& s : {Simple{"create", "Create a group", "createGroup", false, "created group"},
                            Simple{"del", "Delete a group", "deleteGroup", false, "deleted group"},
                            Simple{"add", "Add a member to a group", "addGroupMember", true, "added"},
                            Simple{"remove", "Remove a member from a group", "removeGroupMember", true, "removed"}}) {
        CLI::App* sub = group->add_subcommand(s.verb, s.help);
        sub->add_option("group", a.first, "Group name")->required();
        if (s.member) sub->add_option("user", a.second, "User id")->required();
        leaves.push_back({sub, [s](AdminArgs& a, json& c) {
            c = {{"command", s.command}, {"group", a.first}};
            if (s.member) c["user"] = a.second;
            return true;
        }, say([s](const json& d) {
            if (!s.member) return std::string(s.done) + " '" + str(d, "group") + "'";
            return std::string(s.done) + " '" + str(d, "user") + "' " + (std::string(s.verb) == "add" ? "to" : "from") +
                   " group '" + str(d, "group") + "'";
        })});
    }
    CLI::App* list = group->add_subcommand("list", "List groups and their members");
    list->add_option("--user", a.user, "Only the groups of this user");
    list->add_option("--limit", a.limit, "Groups per request")->capture_default_str()->check(CLI::Range(1, 1000));
    leaves.push_back({list, [](AdminArgs& a, json& c) {
        c = {{"command", "listGroups"}, {"limit", a.limit}};
        if (!a.user.empty()) c["user"] = a.user;
        return true;
    }, {}});
}

void add_ban_commands(CLI::App& app, AdminArgs& a, std::vector<Leaf>& leaves) {
    CLI::App* ban = app.add_subcommand("ban", "Ban a user for a time (admin API)");
    ban->add_option("user", a.first, "User id")->required();
    ban->add_option("--seconds", a.seconds, "Length of the ban")->required()->check(CLI::PositiveNumber);
    ban->add_option("--reason", a.reason, "Why (kept with the ban)");
    leaves.push_back({ban, [](AdminArgs& a, json& c) {
        c = {{"command", "banUser"}, {"user", a.first}, {"seconds", a.seconds}};
        if (!a.reason.empty()) c["reason"] = a.reason;
        return true;
    }, say([](const json& d) {
        std::string line = "banned '" + str(d, "user") + "' for " +
                           (d.contains("seconds") ? d["seconds"].dump() : std::string("?")) + " s";
        if (!str(d, "reason").empty()) line += ": " + str(d, "reason");
        return line;
    })});

    CLI::App* unban = app.add_subcommand("unban", "Lift a user's ban (admin API)");
    unban->add_option("user", a.first, "User id")->required();
    leaves.push_back({unban, [](AdminArgs& a, json& c) {
        c = {{"command", "unbanUser"}, {"user", a.first}};
        return true;
    }, say([](const json& d) { return "unbanned '" + str(d, "user") + "'"; })});

    CLI::App* stats = app.add_subcommand("stats", "Counts of users, groups, contacts, bans, ... (admin API)");
    leaves.push_back({stats, [](AdminArgs&, json& c) {
        c = {{"command", "getStats"}};
        return true;
    }, [](const json& d) -> std::optional<json> {
        if (d.is_object())
            for (auto it = d.begin(); it != d.end(); ++it) std::printf("%-14s %s\n", it.key().c_str(), it->dump().c_str());
        return std::nullopt;
    }});

    CLI::App* pending = app.add_subcommand("pending", "Messages waiting for a user, per conversation (admin API)");
    pending->add_option("user", a.first, "User id")->required();
    leaves.push_back({pending, [](AdminArgs& a, json& c) {
        c = {{"command", "getStreamStats"}, {"user", a.first}};
        return true;
    }, [](const json& d) -> std::optional<json> {
        auto num = [](const json& o, const char* k) { return o.contains(k) ? o[k].dump() : std::string("?"); };
        std::printf("%s: %s waiting (%s bytes)\n", str(d, "user").c_str(), num(d, "pending").c_str(),
                    num(d, "bytes").c_str());
        if (d.contains("conversations") && d["conversations"].is_array())
            for (const json& c : d["conversations"])
                std::printf("  from %-20s %s (%s bytes)\n", str(c, "from").c_str(), num(c, "pending").c_str(),
                            num(c, "bytes").c_str());
        if (d.contains("devices") && d["devices"].is_array())
            for (const json& dev : d["devices"])
                std::printf("  device %-18s read up to seq %s\n", str(dev, "clientId").c_str(), num(dev, "cursor").c_str());
        return std::nullopt;
    }});
}

// Live users, answered by the broker's presence (SPEC 4, 7): kick, online, whois.
void add_presence_commands(CLI::App& app, AdminArgs& a, std::vector<Leaf>& leaves) {
    CLI::App* kick = app.add_subcommand("kick", "Disconnect every device of a user (admin API)");
    kick->add_option("user", a.first, "User id")->required();
    kick->add_option("--reason", a.reason, "Reason string sent to 5.0 devices");
    leaves.push_back({kick, [](AdminArgs& a, json& c) {
        c = {{"command", "kickUser"}, {"user", a.first}};
        if (!a.reason.empty()) c["reason"] = a.reason;
        return true;
    }, say([](const json& d) {
        return "kicked '" + str(d, "user") + "' (" + (d.contains("devices") ? d["devices"].dump() : "?") +
               " devices)";
    })});

    CLI::App* online = app.add_subcommand("online", "List the users online, in name order (admin API)");
    online->add_option("--limit", a.limit, "Users per page")->capture_default_str()->check(CLI::Range(1, 1000));
    online->add_option("--cursor", a.cursor, "Start after this user (the cursor a previous page printed)");
    leaves.push_back({online, [](AdminArgs& a, json& c) {
        c = {{"command", "listOnline"}, {"limit", a.limit}};
        if (!a.cursor.empty()) c["cursor"] = a.cursor;
        return true;
    }, [](const json& d) -> std::optional<json> {
        if (d.contains("users") && d["users"].is_array())
            for (const json& u : d["users"]) std::printf("%s\n", u.is_string() ? u.get<std::string>().c_str() : u.dump().c_str());
        if (d.contains("cursor") && d["cursor"].is_string())
            std::printf("(more: herald online --cursor %s)\n", d["cursor"].get<std::string>().c_str());
        return std::nullopt;
    }});

    CLI::App* whois = app.add_subcommand("whois", "Show a user's presence and devices (admin API)");
    whois->add_option("user", a.first, "User id")->required();
    leaves.push_back({whois, [](AdminArgs& a, json& c) {
        c = {{"command", "getPresence"}, {"user", a.first}};
        return true;
    }, [](const json& d) -> std::optional<json> {
        std::printf("%s: %s (%s)", str(d, "user").c_str(), str(d, "state").c_str(), str(d, "status").c_str());
        if (!str(d, "text").empty()) std::printf(" \"%s\"", str(d, "text").c_str());
        std::printf("\n");
        if (d.contains("devices") && d["devices"].is_array())
            for (const json& dev : d["devices"])
                std::printf("  %s  %s  MQTT %s\n", str(dev, "client_id").c_str(), str(dev, "transport").c_str(),
                            dev.contains("protocol") && dev["protocol"] == 5 ? "5.0" : "3.1.1");
        return std::nullopt;
    }});
}

}  // namespace

CommandRunner add_admin_commands(CLI::App& app) {
    auto args = std::make_shared<AdminArgs>();
    auto leaves = std::make_shared<std::vector<Leaf>>();
    add_user_commands(app, *args, *leaves);
    add_contact_commands(app, *args, *leaves);
    add_group_commands(app, *args, *leaves);
    add_ban_commands(app, *args, *leaves);
    add_presence_commands(app, *args, *leaves);
    for (Leaf& leaf : *leaves) admin::add_admin_flags(*leaf.app, args->flags);
    return [args, leaves](const std::vector<PropertyArg>& properties) -> int {
        for (Leaf& leaf : *leaves) {
            if (!leaf.app->parsed()) continue;
            args->flags.common.property_args = properties;
            json command;
            if (!leaf.build(*args, command)) return kExitError;
            OnData print = leaf.print;
            // The list commands page through everything, one request per page.
            if (!print && command["command"] == "listUsers")
                print = pages(command, "users", [](const json& u) {
                    std::printf("%-32s %s\n", str(u, "user").c_str(), str(u, "role").c_str());
                });
            if (!print && command["command"] == "listGroups")
                print = pages(command, "groups", [](const json& g) {
                    std::printf("%s: %s\n", str(g, "group").c_str(), joined(g.is_object() ? g.value("members", json::array()) : json()).c_str());
                });
            if (args->flags.json) print = pages(command, "", [](const json&) {});
            return admin::call_admin(args->flags, std::move(command), print);
        }
        return kNotThisCommand;
    };
}

}  // namespace herald::tools
