// broker/identity's pure parts: which check a CONNECT gets (check_plan), and the in-memory
// group membership (GroupMembers) as the admin API's changes reach it.
#include <doctest/doctest.h>

#include "broker/identity/check_plan.h"
#include "broker/identity/group_members.h"

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
