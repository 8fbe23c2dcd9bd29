// ControlApi: the administration API of SPEC 7 (`$CONTROL/herald/v1`), in the style of
// mosquitto's dynamic security plugin: a JSON list of commands in, a JSON list of answers out.
//
//   request   {"commands":[{"command":"createUser","user":"bob","password":"..."}, ...]}
//   response  {"responses":[{"command":"createUser","data":{...}},
//                           {"command":"deleteUser","error":"user 'x' does not exist"}, ...]}
//
// Commands run one after the other, in request order, each waiting for its store completion
// (so "createUser bob" then "addContact bob alice" in one request works); the reply is sent
// once every command is answered, answers in request order. A command's failure does not stop
// the ones after it. A "correlationData" field of a command is echoed in its answer.
//
// Only callers with the admin role may use it: others get one "not authorized" answer per
// command and nothing runs. A payload that is not JSON, or has no "commands" array, gets
// {"responses":[],"error":"..."}.
//
// Threads: everything here runs on the loop thread. Store ops complete there; a new password
// is hashed on the libuv thread pool (auth::check_async), never on the loop. The ControlApi
// may be destroyed while requests are in flight: their late completions are then dropped
// (no reply), so destroy it after the store is closed, or accept lost answers at shutdown.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/auth/password_hash.h"
#include "broker/auth/user_id.h"
#include "broker/core/clock.h"
#include "broker/core/control.h"
#include "storage/store.h"

namespace herald::admin {

struct ControlApiOptions {
    size_t max_user_id_bytes = auth::kDefaultMaxUserIdBytes;  // config's user-id maximum
    uint32_t hash_iterations = auth::kDefaultPbkdf2Iterations;  // tests lower it
    size_t default_page = 100;    // listUsers / listGroups / listOnline without "limit"
    size_t max_page = 1000;       // a bigger "limit" is refused
    size_t max_commands = 100;    // per request: bounds the work one publish can ask for
    size_t max_password_bytes = 1024;
};

// Told, on the loop thread, after the store committed an admin change that the broker keeps a
// copy of in memory (group membership, asked at every publish by the topic rules of SPEC 3;
// contacts and groups, asked at each delivery of a presence record by SPEC 4's visibility;
// users and bans, asked at each CONNECT by SPEC 2's checks), before the command's answer.
// The defaults ignore it. heraldd's Identity (broker/identity) listens.
class ChangeListener {
public:
    virtual ~ChangeListener() = default;
    virtual void group_created_in_loop(const std::string& group) { (void)group; }
    virtual void group_deleted_in_loop(const std::string& group) { (void)group; }
    virtual void group_member_added_in_loop(const std::string& group, const std::string& user) {
        (void)group, (void)user;
    }
    virtual void group_member_removed_in_loop(const std::string& group, const std::string& user) {
        (void)group, (void)user;
    }
    // A contact pair (symmetric: a is b's contact and b is a's) was added or removed.
    virtual void contact_added_in_loop(const std::string& a, const std::string& b) { (void)a, (void)b; }
    virtual void contact_removed_in_loop(const std::string& a, const std::string& b) { (void)a, (void)b; }
    // The user's memberships, contacts and ban went with it.
    virtual void user_deleted_in_loop(const std::string& user) { (void)user; }
    // What a CONNECT's check reads (SPEC 2), kept in memory so most CONNECTs need no store
    // read: a new user, a new password hash, a ban set (or replaced) and a ban lifted.
    virtual void user_created_in_loop(const storage::UserRecord& user) { (void)user; }
    virtual void password_changed_in_loop(const std::string& user, const std::string& hash) {
        (void)user, (void)hash;
    }
    virtual void user_banned_in_loop(const storage::BanRecord& ban) { (void)ban; }
    virtual void user_unbanned_in_loop(const std::string& user) { (void)user; }
};

namespace detail {
struct Shared;
}

class ControlApi final : public core::ControlHandler {
public:
    // `presence` may be null (then presence commands answer "not available"); the store, the
    // clock and presence must outlive the ControlApi.
    ControlApi(storage::SqliteStore& store, uv_loop_t* loop, const core::Clock& clock,
               core::PresenceQuery* presence = nullptr, ControlApiOptions options = {});
    ~ControlApi() override;
    ControlApi(const ControlApi&) = delete;
    ControlApi& operator=(const ControlApi&) = delete;

    void handle_in_loop(const core::ControlCaller& caller, std::string payload,
                        std::function<void(std::string response_json)> reply) override;

    // Who answers the presence commands (and hears of bans and deleted users) from now on;
    // null: "not available". heraldd sets the Broker's once it exists, and null before the
    // Broker goes, since the ControlApi outlives it.
    void set_presence(core::PresenceQuery* presence);

    // Requests received and not answered yet (tests, shutdown).
    size_t in_flight() const;

    // Who hears of committed changes (null: nobody). Must outlive the ControlApi.
    void set_listener(ChangeListener* listener);

private:
    std::shared_ptr<detail::Shared> shared_;  // what in-flight requests hold on to
};

}  // namespace herald::admin
