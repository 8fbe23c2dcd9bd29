// Who may see presence/{owner} (SPEC 4, presence.visibility): the one decision, as a pure
// function of the policy and the in-memory contacts and groups, so it is unit-tested alone.
//
//   "all"       every authenticated user sees every presence.
//   "contacts"  the owner's contacts, and the co-members of the owner's groups that have at
//               most group_limit members (a big group, e.g. "everyone", does not make its
//               members see each other).
//
// It runs at each delivery of a presence record to each watcher, so it allocates nothing:
// two hash finds for contacts, then a walk of the shorter group list of the two users.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/identity/contacts.h"
#include "broker/identity/group_members.h"

namespace herald::identity {

struct VisibilityPolicy {
    bool all = false;            // presence.visibility = "all"
    uint32_t group_limit = 100;  // presence.group_limit
};

// From the config's strings; the config parser has already refused other values, so
// anything but "all" is "contacts".
VisibilityPolicy visibility_policy(const std::string& visibility, uint32_t group_limit);

// viewer == owner is always true (the topic rules do not ask it, but a caller may).
bool may_see_presence(const VisibilityPolicy& policy, const Contacts& contacts, const GroupMembers& groups,
                      std::string_view viewer, std::string_view owner);

}  // namespace herald::identity
