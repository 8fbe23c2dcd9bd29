// SqliteStore: the store of record, one SQLite file in WAL mode owned by a writer thread.
//
// Life of a store:
//   1. open() (synchronous, at start, before the loop runs): creates or migrates the schema,
//      drops what expired while the broker was down, and returns the StartState (retained
//      messages, saved sessions). exec_now() may run more synchronous work here (create the
//      first admin).
//   2. start(loop): from now on the connection belongs to the writer thread, and every call
//      below is made on the loop thread. Each call posts one Op. Ops posted during a loop turn
//      are handed to the writer once, just before the loop would block (a uv_prepare_t), with
//      one lock and one wake-up. The writer takes everything handed over since its last batch
//      and runs it in ONE transaction (group commit): ops posted in the same loop turn always
//      share a transaction, so they are durable together or not at all. A transaction takes
//      at most kMaxBatch ops unless a single turn posted more. (An op posted from a
//      uv_prepare callback that libuv runs after the store's waits for the next turn.)
//   3. Each op's completion runs on the loop thread after its batch committed, in posting
//      order, through one uv_async_t that drains the whole completion queue. Status ok in a
//      completion means "committed" (durable as the Durability mode says). The loop never
//      waits on disk. Reads (a session's saved state at reconnect) go the same way and hand
//      their records to the callback.
//      The two handles are referenced only while ops are outstanding: a store with work in
//      flight keeps uv_run() going, an idle one does not keep the loop alive.
//   4. close() on the loop thread: hands over what is pending, lets the writer drain and
//      commit it, joins the thread, runs the last completions, and uv_close()s the handles
//      (freed in their close callbacks, so uv_loop_close() returns 0 once the loop has run
//      them, even if the store is destroyed first). After close(), exec_now() works again.
//
// Errors: an op's own error (NotFound, Exists, Invalid) concerns that op only; the rest of
// the batch commits. A Db error that aborts the transaction (full disk, I/O error), or a
// failed COMMIT, fails every op of the batch: each completion gets that error, and nothing
// of the batch is in the file. Completions that nobody waits for (no callback) are reported
// to the error handler when they failed.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/core/commit_latency.h"
#include "storage/db.h"
#include "storage/records.h"
#include "storage/result.h"

struct uv_loop_s;
typedef struct uv_loop_s uv_loop_t;

namespace herald::storage {

// What a committed transaction survives (config key `durability`).
enum class Durability : uint8_t {
    Process,  // synchronous=NORMAL: survives a crash or kill -9 of heraldd
    Power,    // synchronous=FULL: survives a power cut too (an fsync per commit)
};

// The work of one op, run on the writer thread inside the batch's transaction.
using WorkFn = std::function<Status(Db&)>;
// Called on the loop thread once the op's batch has committed (or failed).
using Done = std::function<void(const Status&)>;
template <class T>
using ReadDone = std::function<void(Result<T>)>;

struct Op {
    WorkFn run;
    Done done;  // may be empty
};

// Counters of the writer thread, readable from any thread (tests, $SYS, benchmarks).
struct WriterStats {
    uint64_t batches = 0;         // transactions committed or attempted
    uint64_t ops = 0;             // ops run
    uint64_t max_batch = 0;       // most ops in one transaction
    uint64_t failed_batches = 0;  // transactions that could not commit
};

class SqliteStore {
public:
    struct Opened;

    // Opens `path` (creating its directory and the file if needed), in WAL mode with the
    // given durability, brings the schema up to date and loads the StartState as of
    // now_wall_ms. Errors read "cannot open data/herald.db: <why>".
    static Result<Opened> open(const std::string& path, Durability durability, uint64_t now_wall_ms);

    ~SqliteStore();  // close() first if started; the loop must still exist then
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // --- synchronous: before start() or after close() only ---

    // Runs `fn` in its own transaction, committed if it returns ok, rolled back otherwise.
    Status exec_now(const WorkFn& fn);
    // Drops what expired by now_wall_ms and loads retained messages and saved sessions.
    Result<StartState> load_at_start(uint64_t now_wall_ms);

    // --- lifecycle, on the loop thread ---

    void start(uv_loop_t* loop);
    void close();
    bool running() const { return handles_ != nullptr; }
    // Receives, on the loop thread, the failures of ops posted without a callback.
    void set_error_handler(std::function<void(const Status&)> handler) { on_error_ = std::move(handler); }

    // --- asynchronous ops, on the loop thread (before start() too: they wait for it) ---

    void post(Op op);
    void write(WorkFn fn, Done done = {}) { post(Op{std::move(fn), std::move(done)}); }
    // Runs `fn` on the writer thread and hands its result to `done` on the loop thread.
    template <class T>
    void read(std::function<Result<T>(Db&)> fn, ReadDone<T> done);

    // Retained messages.
    void retained_set(RetainedRecord message, Done done = {});
    void retained_erase(std::string topic, Done done = {});
    // Persistent sessions.
    void session_save(SessionRecord session, Done done = {});
    // The session and its subscriptions. Its messages are erased first, one by one
    // (session_message_erase): finding them by client id would be a scan, as session_messages
    // is keyed by seq alone (tables.h); any left over go at the next start.
    void session_delete(std::string client_id, Done done = {});
    void subscription_set(std::string client_id, SubscriptionRecord sub, Done done = {});
    void subscription_erase(std::string client_id, std::string filter, Done done = {});
    void session_load(std::string client_id, ReadDone<std::optional<SavedSession>> done);
    void session_message_put(std::string client_id, SessionMessageRecord message, Done done = {});
    void session_message_state(std::string client_id, uint64_t seq, MessageState state, uint16_t packet_id,
                               Done done = {});
    void session_message_erase(std::string client_id, uint64_t seq, Done done = {});
    void session_messages_clear(std::string client_id, Done done = {});  // a scan: tools and tests
    // Users.
    void user_create(UserRecord user, Done done);
    void user_delete(std::string name, Done done);
    void user_set_password_hash(std::string name, std::string hash, Done done);
    void user_set_role(std::string name, Role role, Done done);
    void user_get(std::string name, ReadDone<std::optional<UserRecord>> done);
    void users_list(std::string after, size_t limit, ReadDone<Page<UserRecord>> done);
    // Contacts.
    void contact_add(std::string a, std::string b, uint64_t now_ms, Done done);
    void contact_remove(std::string a, std::string b, Done done);
    void contacts_of(std::string user, ReadDone<std::vector<std::string>> done);
    // Groups.
    void group_create(std::string name, uint64_t now_ms, Done done);
    void group_delete(std::string name, Done done);
    void group_add_member(std::string group, std::string user, uint64_t now_ms, Done done);
    void group_remove_member(std::string group, std::string user, Done done);
    void groups_list(std::string after, size_t limit, ReadDone<Page<GroupRecord>> done);
    void group_members(std::string group, ReadDone<std::vector<GroupMemberRecord>> done);
    void groups_of(std::string user, ReadDone<std::vector<std::string>> done);
    // Bans and devices.
    void ban_set(BanRecord ban, Done done);
    void ban_remove(std::string user, Done done);
    void ban_get(std::string user, ReadDone<std::optional<BanRecord>> done);
    void device_seen(DeviceRecord device, Done done = {});
    void devices_of(std::string user, ReadDone<std::vector<DeviceRecord>> done);

    // Where posting stands: equal marks mean nothing was posted or handed to the writer in
    // between, so the op posted just before the first mark still waits in this loop turn's
    // batch, and the loop thread may still add to what it owns (CoreStore's multi-row puts).
    struct Mark {
        uint64_t posted = 0;
        uint64_t handovers = 0;
        bool operator==(const Mark&) const = default;
    };
    Mark mark() const { return Mark{posted_, handovers_}; }

    // Ops posted and not yet completed, as the loop last heard: core's measure for
    // back-pressure (stop reading from publishers while the writer is far behind).
    uint64_t outstanding() const { return posted_ - completed_seen_; }

    // At most this many ops per transaction: when the loop posts faster than the disk takes
    // them, completions keep flowing in steps instead of waiting for one huge commit.
    static constexpr size_t kMaxBatch = 4096;

    WriterStats stats() const;
    // The duration of every transaction so far, BEGIN to COMMIT (or ROLLBACK), as the writer
    // counted it; readable from any thread. Buckets are read one by one, so a snapshot taken
    // while the writer counts may be one transaction off between buckets and sum.
    core::CommitLatency commit_latency() const;
    const std::string& path() const { return db_->path(); }

    struct Handles;  // the uv handles, freed in their close callbacks (store.cpp)

private:
    struct Completion {
        Done done;
        Status status;
    };

    explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
    void hand_over_in_loop();
    void drain_completions_in_loop();
    void set_referenced_in_loop(bool referenced);
    void writer_main();
    void take_batch_locked(std::vector<Op>& batch);
    void run_batch(std::vector<Op>& batch, std::vector<Completion>& out);
    friend struct Handles;

    std::unique_ptr<Db> db_;  // the opening thread's, then the writer's, then ours again

    // Loop thread only.
    Handles* handles_ = nullptr;
    std::thread::id loop_thread_;
    std::vector<Op> pending_;  // posted this loop turn
    std::vector<Completion> spare_completions_;  // drained last time, kept for its capacity
    uint64_t posted_ = 0;      // ops posted since start(); compared with completed_ops_
    uint64_t completed_seen_ = 0;  // completed_ops_ at the last drain
    uint64_t handovers_ = 0;       // hand-overs to the writer (for mark())
    bool referenced_ = false;  // handles keep the loop alive only while ops are outstanding
    std::function<void(const Status&)> on_error_;
    bool closed_ = false;

    // Shared with the writer thread, under mu_.
    std::mutex mu_;
    std::condition_variable wake_;
    std::vector<Op> incoming_;
    std::vector<size_t> incoming_ends_;  // where each hand-over (one loop turn) ends in incoming_
    std::vector<Completion> completions_;
    bool stopping_ = false;
    uint64_t completed_ops_ = 0;  // ops whose batch finished, counted with their completions
    std::thread writer_;

    std::atomic<uint64_t> batches_{0}, ops_{0}, max_batch_{0}, failed_batches_{0};
    std::array<std::atomic<uint64_t>, core::kCommitLatencyBoundsNs.size() + 1> commit_buckets_{};
    std::atomic<uint64_t> commit_ns_{0};
};

struct SqliteStore::Opened {
    std::unique_ptr<SqliteStore> store;
    StartState state;
};

template <class T>
void SqliteStore::read(std::function<Result<T>(Db&)> fn, ReadDone<T> done) {
    // The result travels from the writer to the loop in a slot both closures share; the op
    // itself reports ok, so a failed read fails only its own callback.
    auto slot = std::make_shared<std::optional<Result<T>>>();
    post(Op{[fn = std::move(fn), slot](Db& db) {
                slot->emplace(fn(db));
                return Status{};
            },
            [done = std::move(done), slot](const Status& s) {
                if (!s || !*slot) done(Result<T>(s.ok() ? Status::db_error("read did not run") : s));
                else done(std::move(**slot));
            }});
}

}  // namespace herald::storage
