// may_see_presence: SPEC 4's presence.visibility over the in-memory contacts and groups.
#include "broker/identity/presence_visibility.h"

namespace herald::identity {

VisibilityPolicy visibility_policy(const std::string& visibility, uint32_t group_limit) {
    return VisibilityPolicy{visibility == "all", group_limit};
}

bool may_see_presence(const VisibilityPolicy& policy, const Contacts& contacts, const GroupMembers& groups,
                      std::string_view viewer, std::string_view owner) {
    if (policy.all || viewer == owner) return true;
    if (contacts.are_contacts(viewer, owner)) return true;
    return groups.share_group_of_at_most(viewer, owner, policy.group_limit);
}

}  // namespace herald::identity
