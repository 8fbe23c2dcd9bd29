// Admin command getStreamStats (SPEC 5, 7): what waits for a user, per conversation, and how
// far each of its devices has read its inbox stream, straight from the store.
//
// "Waiting" is what the store still holds: entries every device has passed are deleted by the
// broker within a tick, so a count may briefly include entries just read.
#include "broker/admin/commands.h"
#include "storage/tables.h"

namespace herald::admin::detail {
namespace {

using storage::Db;

struct Conversation {
    std::string from;
    uint64_t pending = 0, bytes = 0, oldest_seq = 0, newest_seq = 0;
};

struct Device {
    std::string client_id;
    uint64_t cursor = 0;
};

struct StreamStats {
    std::vector<Conversation> conversations;
    std::vector<Device> devices;
};

storage::Result<StreamStats> read_stream_stats(Db& db, const std::string& user) {
    StreamStats out;
    const std::string stream = "users/" + user;
    storage::Query q = db.query(
        "SELECT sender, count(*), sum(length(payload)), min(seq), max(seq) FROM stream_entries "
        "WHERE stream = ?1 GROUP BY sender ORDER BY sender");
    q.bind(1, stream);
    while (q.next()) out.conversations.push_back(Conversation{q.text(0), q.u64(1), q.u64(2), q.u64(3), q.u64(4)});
    if (!q.status()) return q.status();
    storage::Query c = db.query(
        "SELECT client_id, seq FROM cursors WHERE stream = ?1 AND user = ?2 ORDER BY client_id");
    c.bind(1, stream).bind(2, user);
    while (c.next()) out.devices.push_back(Device{c.text(0), c.u64(1)});
    if (!c.status()) return c.status();
    return out;
}

}  // namespace

void get_stream_stats(const SharedPtr& sh, const json& command, Answer done) {
    std::string user;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.read<StreamStats>([user](Db& db) { return read_stream_stats(db, user); },
                                [done, user](storage::Result<StreamStats> r) {
                                    if (!r) return done(store_failure(r.status()));
                                    uint64_t pending = 0, bytes = 0;
                                    json conversations = json::array();
                                    for (const Conversation& c : r->conversations) {
                                        pending += c.pending;
                                        bytes += c.bytes;
                                        conversations.push_back({{"from", c.from},
                                                                 {"pending", c.pending},
                                                                 {"bytes", c.bytes},
                                                                 {"oldestSeq", c.oldest_seq},
                                                                 {"newestSeq", c.newest_seq}});
                                    }
                                    json devices = json::array();
                                    for (const Device& d : r->devices)
                                        devices.push_back({{"clientId", d.client_id}, {"cursor", d.cursor}});
                                    done(Outcome::ok(json{{"user", user},
                                                          {"pending", pending},
                                                          {"bytes", bytes},
                                                          {"conversations", conversations},
                                                          {"devices", devices}}));
                                });
}

}  // namespace herald::admin::detail
