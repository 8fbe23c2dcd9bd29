// broker/identity's pure parts: which check a CONNECT gets (check_plan), the in-memory group
// membership (GroupMembers) and contacts (Contacts) as the admin API's changes reach them, and
// SPEC 4's presence visibility over them.
#include <doctest/doctest.h>

#include "broker/identity/check_plan.h"
#include "broker/identity/contacts.h"
#include "broker/identity/group_members.h"
#include "broker/identity/presence_visibility.h"

using namespace herald::identity;

namespace {

Claim named(bool password = true) {
    Claim c;
    c.has_username = true;
    c.has_password = password;
    return c;
}

}  // namespace

TEST_CASE("SPEC2 plan: no username -> allow_anonymous decides") {
    Policy open{true, false, false}, closed{false, false, false};
    CHECK(plan_check(Claim{}, open) == Plan::AcceptAnonymous);
    CHECK(plan_check(Claim{}, closed) == Plan::RefuseAnonymous);
}

TEST_CASE("SPEC2 plan: a JWT-shaped password is a token only when a key is configured") {
    Claim c = named();
    c.looks_like_jwt = true;
    c.in_users_table = true;
    CHECK(plan_check(c, Policy{false, true, false}) == Plan::Token);
    // Without a key it is just a password (some people pick odd passwords).
    CHECK(plan_check(c, Policy{false, false, false}) == Plan::StoredHash);
}

TEST_CASE("SPEC2 plan: users table before password file; no password refused without a check") {
    Claim c = named();
    c.in_users_table = true;
    c.in_password_file = true;
    CHECK(plan_check(c, Policy{false, false, true}) == Plan::StoredHash);
    c.in_users_table = false;
    CHECK(plan_check(c, Policy{false, false, true}) == Plan::PasswordFile);
    c.has_password = false;
    CHECK(plan_check(c, Policy{true, false, true}) == Plan::RefuseNoPassword);
    Claim t = named(false);
    t.in_users_table = true;
    CHECK(plan_check(t, Policy{true, false, false}) == Plan::RefuseNoPassword);
}

TEST_CASE("SPEC2 plan: unknown users get in only with allow_anonymous and no password file") {
    Claim c = named();
    CHECK(plan_check(c, Policy{true, false, false}) == Plan::AcceptUnknown);
    CHECK(plan_check(c, Policy{true, true, false}) == Plan::AcceptUnknown);
    CHECK(plan_check(c, Policy{true, false, true}) == Plan::RefuseUnknown);
    CHECK(plan_check(c, Policy{false, false, false}) == Plan::RefuseUnknown);
    CHECK(std::string(plan_name(Plan::RefuseUnknown)) == "refuse unknown user");
}

TEST_CASE("SPEC3 group membership follows the admin API's changes") {
    GroupMembers g;
    g.assign({{"devs", "ann", 0}, {"devs", "bob", 0}, {"ops", "bob", 0}});
    CHECK(g.contains("devs", "ann"));
    CHECK(g.contains(std::string_view("ops"), std::string_view("bob")));
    CHECK_FALSE(g.contains("ops", "ann"));
    CHECK_FALSE(g.contains("nope", "ann"));
    CHECK(g.memberships() == 3);

    g.add("ops", "ann");
    g.add("ops", "ann");  // twice is once
    CHECK(g.memberships() == 4);
    g.remove("devs", "ann");
    CHECK_FALSE(g.contains("devs", "ann"));
    g.remove("devs", "nobody");
    g.remove_user("bob");  // deleteUser: from every group
    CHECK_FALSE(g.contains("devs", "bob"));
    CHECK_FALSE(g.contains("ops", "bob"));
    CHECK(g.groups() == 1);  // devs is empty now
    g.remove_group("ops");
    CHECK(g.memberships() == 0);
    CHECK(g.groups() == 0);
}

TEST_CASE("SPEC3 group membership: the reverse index (groups of a user) and group sizes stay in step") {
    GroupMembers g;
    g.assign({{"devs", "ann", 0}, {"devs", "bob", 0}, {"ops", "bob", 0}, {"ops", "cat", 0}, {"ops", "dan", 0}});
    using Names = std::vector<std::string>;
    CHECK(g.groups_of("bob") == Names{"devs", "ops"});
    CHECK(g.groups_of("ann") == Names{"devs"});
    CHECK(g.groups_of("nobody").empty());
    CHECK(g.size("devs") == 2);
    CHECK(g.size("ops") == 3);
    CHECK(g.size("nope") == 0);
    CHECK(g.users() == 4);

    g.add("devs", "cat");
    CHECK(g.groups_of("cat") == Names{"devs", "ops"});
    CHECK(g.size("devs") == 3);
    g.remove("ops", "cat");
    CHECK(g.groups_of("cat") == Names{"devs"});
    g.remove("ops", "cat");  // twice: nothing
    CHECK(g.size("ops") == 2);
    g.remove_group("devs");
    CHECK(g.groups_of("ann").empty());
    CHECK(g.groups_of("cat").empty());
    CHECK(g.groups_of("bob") == Names{"ops"});
    CHECK(g.users() == 2);  // bob, dan
    g.remove_user("bob");
    CHECK(g.groups_of("bob").empty());
    CHECK(g.size("ops") == 1);
    CHECK(g.memberships() == 1);
    g.remove_user("dan");
    CHECK(g.users() == 0);
    CHECK(g.groups() == 0);
}

TEST_CASE("SPEC4 contacts copy: symmetric, added twice is once, follows removals and deleted users") {
    Contacts c;
    c.assign({{"ann", "bob"}, {"bob", "cat"}, {"cat", "ann"}, {"bob", "ann"}});  // the last is a repeat
    CHECK(c.pairs() == 3);
    CHECK(c.are_contacts("ann", "bob"));
    CHECK(c.are_contacts("bob", "ann"));
    CHECK(c.are_contacts(std::string_view("cat"), std::string_view("ann")));
    CHECK_FALSE(c.are_contacts("ann", "dan"));
    CHECK_FALSE(c.are_contacts("dan", "ann"));
    using Names = std::vector<std::string>;
    CHECK(c.of("bob") == Names{"ann", "cat"});

    c.add("dan", "ann");
    c.add("ann", "dan");  // the same pair
    c.add("eve", "eve");  // never one's own contact
    CHECK(c.pairs() == 4);
    CHECK_FALSE(c.are_contacts("eve", "eve"));
    CHECK(c.of("ann") == Names{"bob", "cat", "dan"});

    c.remove("bob", "ann");  // either order
    CHECK_FALSE(c.are_contacts("ann", "bob"));
    CHECK_FALSE(c.are_contacts("bob", "ann"));
    c.remove("ann", "bob");  // not contacts any more: nothing
    CHECK(c.pairs() == 3);

    c.remove_user("ann");  // deleteUser
    CHECK(c.of("ann").empty());
    CHECK(c.of("cat") == Names{"bob"});
    CHECK(c.of("dan").empty());
    CHECK(c.pairs() == 1);
    CHECK(c.users() == 2);  // bob, cat
    c.remove_user("nobody");
    CHECK(c.pairs() == 1);
}

TEST_CASE("SPEC4 presence visibility: all, contacts, co-members of groups up to group_limit") {
    Contacts c;
    c.assign({{"ann", "bob"}});
    GroupMembers g;
    // small: 3 members; big: 4 members; solo: one.
    g.assign({{"small", "ann", 0}, {"small", "cat", 0}, {"small", "dan", 0},
              {"big", "ann", 0}, {"big", "eve", 0}, {"big", "fay", 0}, {"big", "cat", 0},
              {"solo", "gus", 0}});

    SUBCASE("visibility all: everyone sees everyone") {
        VisibilityPolicy all = visibility_policy("all", 3);
        CHECK(all.all);
        CHECK(may_see_presence(all, c, g, "gus", "ann"));
        CHECK(may_see_presence(all, c, g, "nobody", "eve"));
    }
    SUBCASE("visibility contacts") {
        VisibilityPolicy p = visibility_policy("contacts", 3);
        CHECK_FALSE(p.all);
        CHECK(may_see_presence(p, c, g, "bob", "ann"));  // contacts, both ways
        CHECK(may_see_presence(p, c, g, "ann", "bob"));
        CHECK(may_see_presence(p, c, g, "cat", "ann"));  // co-members of "small" (3 <= 3)
        CHECK(may_see_presence(p, c, g, "ann", "dan"));
        CHECK_FALSE(may_see_presence(p, c, g, "eve", "ann"));  // only "big" in common (4 > 3)
        CHECK_FALSE(may_see_presence(p, c, g, "fay", "eve"));
        CHECK_FALSE(may_see_presence(p, c, g, "bob", "cat"));  // nothing in common
        CHECK_FALSE(may_see_presence(p, c, g, "gus", "ann"));
        CHECK_FALSE(may_see_presence(p, c, g, "nobody", "ann"));
        CHECK(may_see_presence(p, c, g, "gus", "gus"));  // oneself

        // The limit counts members now: one leaving "big" makes it small enough.
        g.remove("big", "fay");
        CHECK(may_see_presence(p, c, g, "eve", "ann"));
        g.add("big", "fay");
        CHECK_FALSE(may_see_presence(p, c, g, "eve", "ann"));
        // A raised limit does it too.
        CHECK(may_see_presence(visibility_policy("contacts", 4), c, g, "eve", "ann"));
        // group_limit 0: groups never make anyone visible; contacts still do.
        VisibilityPolicy none = visibility_policy("contacts", 0);
        CHECK_FALSE(may_see_presence(none, c, g, "cat", "ann"));
        CHECK(may_see_presence(none, c, g, "bob", "ann"));
        // A removed contact is not visible any more; a deleted user loses both ways in.
        c.remove("ann", "bob");
        CHECK_FALSE(may_see_presence(p, c, g, "bob", "ann"));
        g.remove_user("cat");
        c.remove_user("cat");
        CHECK_FALSE(may_see_presence(p, c, g, "cat", "ann"));
        CHECK(may_see_presence(p, c, g, "dan", "ann"));  // "small" is 2 now
    }
}
