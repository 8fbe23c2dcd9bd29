// plan_check(): see check_plan.h for the order and why.
#include "broker/identity/check_plan.h"

namespace herald::identity {

Plan plan_check(const Claim& claim, const Policy& policy) {
    if (!claim.has_username) return policy.allow_anonymous ? Plan::AcceptAnonymous : Plan::RefuseAnonymous;
    if (claim.has_password && claim.looks_like_jwt && policy.jwt_configured) return Plan::Token;
    if (claim.in_users_table) return claim.has_password ? Plan::StoredHash : Plan::RefuseNoPassword;
    if (claim.in_password_file && policy.have_password_file)
        return claim.has_password ? Plan::PasswordFile : Plan::RefuseNoPassword;
    return policy.allow_anonymous && !policy.have_password_file ? Plan::AcceptUnknown : Plan::RefuseUnknown;
}

const char* plan_name(Plan plan) {
    switch (plan) {
        case Plan::AcceptAnonymous: return "accept anonymous";
        case Plan::RefuseAnonymous: return "refuse anonymous";
        case Plan::Token: return "token";
        case Plan::StoredHash: return "stored hash";
        case Plan::PasswordFile: return "password file";
        case Plan::RefuseNoPassword: return "refuse: no password";
        case Plan::AcceptUnknown: return "accept unknown user";
        case Plan::RefuseUnknown: return "refuse unknown user";
    }
    return "?";
}

}  // namespace herald::identity
