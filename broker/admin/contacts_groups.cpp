// Admin commands on contacts and groups: addContact, removeContact, listContacts,
// createGroup, deleteGroup, addGroupMember, removeGroupMember, listGroups.
//
// The table functions do not know about users (a contact row is two names), so the checks
// that the named users exist run in the same op, on the writer thread, as the change itself:
// no other op can delete the user in between.
#include "broker/admin/commands.h"
#include "storage/tables.h"

namespace herald::admin::detail {
namespace {

using storage::Code;
using storage::Db;
using storage::Status;

Status user_must_exist(Db& db, const std::string& user) {
    auto got = storage::users::get(db, user);
    if (!got) return got.status();
    if (!got.value()) return Status::error(Code::NotFound, "user '" + user + "' does not exist");
    return {};
}

// One page of groups, each with its members, read in one op.
struct GroupsPage {
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    std::string next;
};

Status add_members(Db& db, GroupsPage& page) {
    for (auto& [name, members] : page.groups) {
        auto m = storage::groups::members(db, name);
        if (!m) return m.status();
        for (storage::GroupMemberRecord& r : m.value()) members.push_back(std::move(r.user));
    }
    return {};
}

storage::Result<GroupsPage> read_groups(Db& db, const std::string& user, const std::string& cursor, size_t limit) {
    GroupsPage page;
    if (!user.empty()) {
        // The groups of one user: few, so all at once.
        if (Status s = user_must_exist(db, user); !s) return s;
        auto names = storage::groups::of_user(db, user);
        if (!names) return names.status();
        for (std::string& n : names.value()) page.groups.emplace_back(std::move(n), std::vector<std::string>{});
    } else {
        auto list = storage::groups::list(db, cursor, limit);
        if (!list) return list.status();
        for (storage::GroupRecord& g : list->items) page.groups.emplace_back(std::move(g.name), std::vector<std::string>{});
        page.next = std::move(list->next);
    }
    if (Status s = add_members(db, page); !s) return s;
    return page;
}

// For commands whose answer is just their arguments once the op committed; the listener is
// told first (the broker's copy of contacts and groups), so the change is in effect when the
// admin reads the answer.
storage::Done answer_and_tell(const SharedPtr& sh, json data, Answer done,
                              std::function<void(ChangeListener&)> tell) {
    return [sh, data = std::move(data), done = std::move(done), tell = std::move(tell)](const Status& s) {
        if (!s) return done(store_failure(s));
        if (sh->alive) tell(*sh->listener);
        done(Outcome::ok(data));
    };
}

}  // namespace

void add_contact(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, contact;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_user(*sh, command, "contact", contact); !e.empty()) return done(Outcome::fail(e));
    if (user == contact) return done(Outcome::fail("a user cannot be its own contact: \"user\" and \"contact\" are both '" + user + "'"));
    uint64_t now = sh->clock.wall_ms();
    sh->store.write(
        [user, contact, now](Db& db) {
            if (Status s = user_must_exist(db, user); !s) return s;
            if (Status s = user_must_exist(db, contact); !s) return s;
            return storage::contacts::add(db, user, contact, now);
        },
        answer_and_tell(sh, json{{"user", user}, {"contact", contact}}, std::move(done),
                        [user, contact](ChangeListener& l) { l.contact_added_in_loop(user, contact); }));
}

void remove_contact(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, contact;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_user(*sh, command, "contact", contact); !e.empty()) return done(Outcome::fail(e));
    sh->store.contact_remove(
        user, contact,
        answer_and_tell(sh, json{{"user", user}, {"contact", contact}}, std::move(done),
                        [user, contact](ChangeListener& l) { l.contact_removed_in_loop(user, contact); }));
}

void list_contacts(const SharedPtr& sh, const json& command, Answer done) {
    std::string user;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.read<std::vector<std::string>>(
        [user](Db& db) -> storage::Result<std::vector<std::string>> {
            if (Status s = user_must_exist(db, user); !s) return s;
            return storage::contacts::of_user(db, user);
        },
        [user, done](storage::Result<std::vector<std::string>> contacts) {
            if (!contacts) return done(store_failure(contacts.status()));
            done(Outcome::ok(json{{"user", user}, {"contacts", std::move(contacts.value())}}));
        });
}

void create_group(const SharedPtr& sh, const json& command, Answer done) {
    std::string group;
    if (std::string e = arg_group(*sh, command, group); !e.empty()) return done(Outcome::fail(e));
    sh->store.group_create(group, sh->clock.wall_ms(),
                           answer_and_tell(sh, json{{"group", group}}, std::move(done),
                                           [group](ChangeListener& l) { l.group_created_in_loop(group); }));
}

void delete_group(const SharedPtr& sh, const json& command, Answer done) {
    std::string group;
    if (std::string e = arg_group(*sh, command, group); !e.empty()) return done(Outcome::fail(e));
    sh->store.group_delete(group, answer_and_tell(sh, json{{"group", group}}, std::move(done),
                                                  [group](ChangeListener& l) { l.group_deleted_in_loop(group); }));
}

void add_group_member(const SharedPtr& sh, const json& command, Answer done) {
    std::string group, user;
    if (std::string e = arg_group(*sh, command, group); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    uint64_t now = sh->clock.wall_ms();
    sh->store.write(
        [group, user, now](Db& db) {
            if (Status s = user_must_exist(db, user); !s) return s;
            return storage::groups::add_member(db, group, user, now);
        },
        answer_and_tell(sh, json{{"group", group}, {"user", user}}, std::move(done),
                        [group, user](ChangeListener& l) { l.group_member_added_in_loop(group, user); }));
}

void remove_group_member(const SharedPtr& sh, const json& command, Answer done) {
    std::string group, user;
    if (std::string e = arg_group(*sh, command, group); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.group_remove_member(
        group, user,
        answer_and_tell(sh, json{{"group", group}, {"user", user}}, std::move(done),
                        [group, user](ChangeListener& l) { l.group_member_removed_in_loop(group, user); }));
}

void list_groups(const SharedPtr& sh, const json& command, Answer done) {
    std::string cursor, user;
    size_t limit = 0;
    if (std::string e = arg_page(*sh, command, cursor, limit); !e.empty()) return done(Outcome::fail(e));
    if (command.contains("user") && !command["user"].is_null())
        if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.read<GroupsPage>([user, cursor, limit](Db& db) { return read_groups(db, user, cursor, limit); },
                               [done](storage::Result<GroupsPage> page) {
                                   if (!page) return done(store_failure(page.status()));
                                   json groups = json::array();
                                   for (auto& [name, members] : page->groups)
                                       groups.push_back(json{{"group", name}, {"members", members}});
                                   done(Outcome::ok(json{{"groups", std::move(groups)},
                                                         {"cursor", cursor_json(page->next)}}));
                               });
}

}  // namespace herald::admin::detail
