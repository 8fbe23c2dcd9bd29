// Identity: who a CONNECT is (SPEC 2) and which groups a user belongs to (SPEC 3), as core
// asks it.
//
// Why an interface here: the answers live above core (the users table, JWT keys, the
// password file, bans, group membership in the SQLite store, slow hashes on the libuv thread
// pool), and core must not reach up. heraldd wires an implementation in with
// Broker::set_identity(); without one, core checks the password file and allow_anonymous
// itself (unit tests, embedded use).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "broker/mqtt/reason_codes.h"

namespace herald::core {

// What a CONNECT claims.
struct Credentials {
    std::optional<std::string> username;
    std::optional<std::string> password;  // bytes, may hold a JWT
    std::string client_id;                // after assignment, never empty
    std::string peer;                     // "127.0.0.1:50312", for log lines
    // The username is the CN of a client certificate the TLS listener verified
    // (use_identity_as_username): no password is needed, a ban still refuses.
    bool certified = false;
};

// The answer: Success, or the 5.0 reason code to refuse with (core maps it for 3.1.1).
struct Verdict {
    mqtt::ReasonCode reason = mqtt::ReasonCode::Success;
    bool admin = false;  // the user has the admin role
    std::string why;     // for the log line when refused ("wrong password", "banned until ...")
};

class Identity {
public:
    virtual ~Identity() = default;

    // Called on the loop thread once per CONNECT that passed the protocol checks. `done` is
    // called exactly once, on the loop thread: either before this returns (nothing to check
    // off the loop, e.g. an anonymous client) or later. Slow work (hashes, signatures, store
    // reads) never runs on the loop. `done` must stay safe to call after the client is gone.
    virtual void authenticate_in_loop(Credentials who, std::function<void(Verdict)> done) = 0;

    // Group membership for the topic rules of SPEC 3, asked at publish, subscribe and each
    // delivery, so it answers from memory, at once.
    virtual bool is_group_member(std::string_view group, std::string_view user) const = 0;

    // SPEC 4 visibility: may `viewer` read `presence/{owner}`? Asked at subscribe and at each
    // delivery (never for viewer == owner), so it answers from memory. The default, for an
    // Identity that keeps no contacts, is presence.visibility = "all".
    virtual bool may_see_presence(std::string_view viewer, std::string_view owner) const {
        (void)viewer, (void)owner;
        return true;
    }
};

}  // namespace herald::core
