// SPEC 7 admin API, contacts and groups: addContact, removeContact, listContacts,
// createGroup, deleteGroup, addGroupMember, removeGroupMember, listGroups.
#include "tests/unit/admin_test_util.h"

using namespace herald::admin::test;

namespace {

void three_users(AdminFixture& f) {
    json cmds = json::array();
    for (const char* u : {"ann", "bob", "cat"}) cmds.push_back({{"command", "createUser"}, {"user", u}, {"password", "p"}});
    f.request({{"commands", cmds}});
}

}  // namespace

TEST_CASE("SPEC7 contacts are symmetric, added twice is fine, removed once") {
    AdminFixture f;
    three_users(f);
    CHECK(f.ok({{"command", "addContact"}, {"user", "bob"}, {"contact", "ann"}}) ==
          json{{"user", "bob"}, {"contact", "ann"}});
    f.ok({{"command", "addContact"}, {"user", "ann"}, {"contact", "bob"}});
    f.ok({{"command", "addContact"}, {"user", "bob"}, {"contact", "cat"}});
    CHECK(f.ok({{"command", "listContacts"}, {"user", "bob"}}) ==
          json{{"user", "bob"}, {"contacts", {"ann", "cat"}}});
    CHECK(f.ok({{"command", "listContacts"}, {"user", "ann"}})["contacts"] == json{"bob"});
    f.ok({{"command", "removeContact"}, {"user", "ann"}, {"contact", "bob"}});
    CHECK(f.ok({{"command", "listContacts"}, {"user", "bob"}})["contacts"] == json{"cat"});
    CHECK(f.error({{"command", "removeContact"}, {"user", "ann"}, {"contact", "bob"}}) == "'ann' and 'bob' are not contacts");
}

TEST_CASE("SPEC7 contact commands refuse unknown users and bad arguments") {
    AdminFixture f;
    three_users(f);
    CHECK(f.error({{"command", "addContact"}, {"user", "bob"}, {"contact", "zed"}}) == "user 'zed' does not exist");
    CHECK(f.error({{"command", "addContact"}, {"user", "zed"}, {"contact", "bob"}}) == "user 'zed' does not exist");
    CHECK(contains(f.error({{"command", "addContact"}, {"user", "bob"}, {"contact", "bob"}}), "own contact"));
    CHECK(contains(f.error({{"command", "addContact"}, {"user", "bob"}}), "\"contact\" is missing"));
    CHECK(contains(f.error({{"command", "addContact"}, {"user", "bob"}, {"contact", 7}}), "\"contact\" must be a string"));
    CHECK(contains(f.error({{"command", "removeContact"}, {"contact", "bob"}}), "\"user\" is missing"));
    CHECK(f.error({{"command", "listContacts"}, {"user", "zed"}}) == "user 'zed' does not exist");
    CHECK(contains(f.error({{"command", "listContacts"}, {"user", "a/b"}}), "not a valid user id"));
}

TEST_CASE("SPEC7 groups: create, members, list, delete") {
    AdminFixture f;
    three_users(f);
    CHECK(f.ok({{"command", "createGroup"}, {"group", "devs"}}) == json{{"group", "devs"}});
    f.ok({{"command", "createGroup"}, {"group", "ops"}});
    CHECK(f.error({{"command", "createGroup"}, {"group", "devs"}}) == "group 'devs' already exists");
    CHECK(f.ok({{"command", "addGroupMember"}, {"group", "devs"}, {"user", "bob"}}) ==
          json{{"group", "devs"}, {"user", "bob"}});
    f.ok({{"command", "addGroupMember"}, {"group", "devs"}, {"user", "ann"}});
    f.ok({{"command", "addGroupMember"}, {"group", "ops"}, {"user", "bob"}});

    json all = f.ok({{"command", "listGroups"}});
    CHECK(all == json{{"groups", {{{"group", "devs"}, {"members", {"ann", "bob"}}},
                                  {{"group", "ops"}, {"members", {"bob"}}}}},
                      {"cursor", nullptr}});
    json page = f.ok({{"command", "listGroups"}, {"limit", 1}});
    CHECK(page["groups"].size() == 1);
    CHECK(page["cursor"] == "devs");
    page = f.ok({{"command", "listGroups"}, {"limit", 1}, {"cursor", "devs"}});
    CHECK(page["groups"][0]["group"] == "ops");
    CHECK(page["cursor"].is_null());
    // The groups of one user.
    CHECK(f.ok({{"command", "listGroups"}, {"user", "ann"}})["groups"] ==
          json::array({{{"group", "devs"}, {"members", {"ann", "bob"}}}}));
    CHECK(f.error({{"command", "listGroups"}, {"user", "zed"}}) == "user 'zed' does not exist");

    f.ok({{"command", "removeGroupMember"}, {"group", "devs"}, {"user", "ann"}});
    CHECK(f.error({{"command", "removeGroupMember"}, {"group", "devs"}, {"user", "ann"}}).find("ann") != std::string::npos);
    CHECK(f.ok({{"command", "deleteGroup"}, {"group", "devs"}}) == json{{"group", "devs"}});
    CHECK(f.error({{"command", "deleteGroup"}, {"group", "devs"}}) == "group 'devs' does not exist");
    CHECK(f.ok({{"command", "listGroups"}})["groups"].size() == 1);
}

TEST_CASE("SPEC7 group commands refuse unknown groups, users and bad names") {
    AdminFixture f;
    three_users(f);
    f.ok({{"command", "createGroup"}, {"group", "devs"}});
    CHECK(f.error({{"command", "addGroupMember"}, {"group", "nope"}, {"user", "bob"}}) == "group 'nope' does not exist");
    CHECK(f.error({{"command", "addGroupMember"}, {"group", "devs"}, {"user", "zed"}}) == "user 'zed' does not exist");
    CHECK(contains(f.error({{"command", "createGroup"}, {"group", "a/b"}}), "not a valid group name"));
    CHECK(contains(f.error({{"command", "createGroup"}, {"group", "+"}}), "not a valid group name"));
    CHECK(contains(f.error({{"command", "createGroup"}}), "\"group\" is missing"));
    CHECK(contains(f.error({{"command", "addGroupMember"}, {"group", "devs"}}), "\"user\" is missing"));
    CHECK(contains(f.error({{"command", "deleteGroup"}, {"group", nullptr}}), "\"group\" is missing"));
    CHECK(contains(f.error({{"command", "listGroups"}, {"limit", 1.5}}), "\"limit\" must be a whole number"));
}

namespace {

// Records what the admin API tells the broker's in-memory copies.
struct RecordingListener : herald::admin::ChangeListener {
    std::vector<std::string> events;
    void contact_added_in_loop(const std::string& a, const std::string& b) override {
        events.push_back("contact+ " + a + " " + b);
    }
    void contact_removed_in_loop(const std::string& a, const std::string& b) override {
        events.push_back("contact- " + a + " " + b);
    }
    void group_member_added_in_loop(const std::string& g, const std::string& u) override {
        events.push_back("member+ " + g + " " + u);
    }
    void user_deleted_in_loop(const std::string& u) override { events.push_back("deleted " + u); }
};

}  // namespace

TEST_CASE("SPEC4 contact changes are told to the listener after the commit, failures are not") {
    AdminFixture f;
    RecordingListener l;
    f.api->set_listener(&l);
    three_users(f);
    f.ok({{"command", "addContact"}, {"user", "ann"}, {"contact", "bob"}});
    f.error({{"command", "addContact"}, {"user", "ann"}, {"contact", "zed"}});  // no such user
    f.ok({{"command", "removeContact"}, {"user", "bob"}, {"contact", "ann"}});
    f.error({{"command", "removeContact"}, {"user", "bob"}, {"contact", "ann"}});  // not contacts
    f.ok({{"command", "createGroup"}, {"group", "g"}});
    f.ok({{"command", "addGroupMember"}, {"group", "g"}, {"user", "cat"}});
    f.ok({{"command", "deleteUser"}, {"user", "cat"}});
    CHECK(l.events == std::vector<std::string>{"contact+ ann bob", "contact- bob ann", "member+ g cat", "deleted cat"});
    f.api->set_listener(nullptr);
}
