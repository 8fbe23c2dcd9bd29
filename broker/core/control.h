// The broker's door for administration (SPEC 7): who handles what a client publishes to
// `$CONTROL/herald/v1`, and what that handler may ask of the broker about live users.
//
// Why an interface here: core routes the request and publishes the answer, but the commands
// themselves live above it (broker/admin, over the SQLite store and the hashing workers), and
// core must not reach up. heraldd wires the two together.
//
// Contract with core:
//   - When a client publishes to kControlTopic, core does not route the message to subscribers;
//     it calls handle_in_loop() with the publisher's identity (admin = the user's role is admin,
//     as known since its CONNECT) and the payload, on the loop thread.
//   - `reply` may be called later (after store completions), always on the loop thread,
//     exactly once; core then publishes its text on kControlResponseTopic (QoS 1, not retained)
//     to the admins subscribed there. A 5.0 request's correlation data, if any, should be set
//     on the answer too; the JSON also echoes a "correlationData" field of each command.
//   - If the calling client has gone by then, core still publishes the answer (other admins may
//     be waiting for it); `reply` must stay safe to call after the client is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace herald::core {

inline constexpr const char* kControlTopic = "$CONTROL/herald/v1";
inline constexpr const char* kControlResponseTopic = "$CONTROL/herald/v1/response";

// Who sent an administration request.
struct ControlCaller {
    std::string user;       // the MQTT username ("" for an anonymous client)
    std::string client_id;
    bool admin = false;     // the user has the admin role
};

class ControlHandler {
public:
    virtual ~ControlHandler() = default;
    // Called on the loop thread for each PUBLISH to kControlTopic. `reply(response_json)` is
    // called exactly once, on the loop thread, possibly after this returns.
    virtual void handle_in_loop(const ControlCaller& caller, std::string payload,
                                std::function<void(std::string response_json)> reply) = 0;
};

// What the admin API asks of the broker's live state: presence (getPresence, listOnline,
// kickUser) and the effect of a ban or a deleted user on the connections already open.
//
// Every method is called on the loop thread. The defaults answer "not available" (and ignore
// the notifications): the presence issue overrides them. Answers go through `done(error,
// data_json)`: either a non-empty error sentence, or data_json holding one JSON value (the
// command's "data"); `done` may be called later, on the loop thread, exactly once.
class PresenceQuery {
public:
    using Answer = std::function<void(std::string error, std::string data_json)>;
    static constexpr const char* kNotAvailable = "presence is not available in this version";

    virtual ~PresenceQuery() = default;

    // The presence of `user` (online or not, devices, last seen).
    virtual void get_presence_in_loop(const std::string& user, Answer done) {
        (void)user;
        done(kNotAvailable, {});
    }
    // Users online, ordered by name, after `cursor` ("" = from the start), at most `limit`;
    // data: {"users":[...], "cursor": next or null}.
    virtual void list_online_in_loop(const std::string& cursor, size_t limit, Answer done) {
        (void)cursor, (void)limit;
        done(kNotAvailable, {});
    }
    // Disconnects every device of `user` (5.0: DISCONNECT 0x98 Administrative action).
    virtual void kick_user_in_loop(const std::string& user, const std::string& reason, Answer done) {
        (void)user, (void)reason;
        done(kNotAvailable, {});
    }

    // Notifications after the store committed the change: the broker should disconnect the
    // user's devices (a ban also refuses its CONNECTs until until_wall_ms; core reads the bans
    // table at CONNECT for that).
    virtual void user_banned_in_loop(const std::string& user, uint64_t until_wall_ms, const std::string& reason) {
        (void)user, (void)until_wall_ms, (void)reason;
    }
    virtual void user_deleted_in_loop(const std::string& user) { (void)user; }
};

}  // namespace herald::core
