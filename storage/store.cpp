// SqliteStore's machinery: opening, the writer thread and its group commit, and the two uv
// handles through which the loop hands work over and takes completions back.
#include "storage/store.h"

#include <cassert>
#include <chrono>
#include <filesystem>

#include <uv.h>

#include "storage/schema.h"
#include "storage/tables.h"

namespace herald::storage {

// Heap-allocated so that it outlives the store until libuv has run both close callbacks.
struct SqliteStore::Handles {
    uv_prepare_t prepare;  // hands the turn's ops to the writer, just before the loop blocks
    uv_async_t async;      // the writer's "completions are ready"
    SqliteStore* store = nullptr;
    int open = 0;

    static void on_prepare(uv_prepare_t* h) {
        static_cast<Handles*>(h->data)->store->hand_over_in_loop();
    }
    static void on_async(uv_async_t* h) {
        static_cast<Handles*>(h->data)->store->drain_completions_in_loop();
    }
    static void on_close(uv_handle_t* h) {
        auto* self = static_cast<Handles*>(h->data);
        if (--self->open == 0) delete self;
    }
};

namespace {

Status configure(Db& db, Durability durability) {
    // busy_timeout: another process (a backup, the sqlite3 shell) may hold the lock briefly.
    if (Status s = db.exec("PRAGMA busy_timeout = 5000"); !s) return s;
    {
        Query q = db.query("PRAGMA journal_mode = WAL");
        std::string mode = q.next() ? q.text(0) : std::string();
        if (!q.status()) return q.status();
        if (mode != "wal") return Status::db_error("cannot use WAL mode (journal mode is '" + mode + "')");
    }
    return db.exec(durability == Durability::Power ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

}  // namespace

Result<SqliteStore::Opened> SqliteStore::open(const std::string& path, Durability durability,
                                              uint64_t now_wall_ms) {
    auto fail = [&path](const std::string& why) { return Status::db_error("cannot open " + path + ": " + why); };
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec) return fail("cannot create directory " + parent.string() + ": " + ec.message());
    }
    auto db = Db::open(path);
    if (!db) return fail(db.error());
    if (db.value()->read_only()) return fail("the file is read-only");
    if (Status s = configure(*db.value(), durability); !s) return fail(s.message());
    if (Status s = migrate(*db.value()); !s) return fail(s.message());
    std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db.value())));
    auto state = store->load_at_start(now_wall_ms);
    if (!state) return fail(state.error());
    return Opened{std::move(store), std::move(state.value())};
}

SqliteStore::~SqliteStore() {
    if (running()) close();
}

Status SqliteStore::exec_now(const WorkFn& fn) {
    assert(!running());
    if (running()) return Status::db_error("exec_now() while the writer thread owns the database");
    if (Status s = db_->exec("BEGIN IMMEDIATE"); !s) return s;
    Status s = fn(*db_);
    if (s && db_->autocommit()) s = Status::db_error("the transaction was rolled back: " + db_->errmsg());
    if (!s) {
        if (!db_->autocommit()) db_->exec("ROLLBACK");
        return s;
    }
    if (Status c = db_->exec("COMMIT"); !c) {
        db_->exec("ROLLBACK");
        return c;
    }
    return {};
}

Result<StartState> SqliteStore::load_at_start(uint64_t now_wall_ms) {
    StartState state;
    Status s = exec_now([&](Db& db) -> Status {
        // What expired while the broker was down is dropped before anyone sees it.
        if (Status e = retained::purge_expired(db, now_wall_ms); !e) return e;
        if (Status e = sessions::purge_expired(db, now_wall_ms); !e) return e;
        auto r = retained::load_all(db);
        if (!r) return r.status();
        state.retained = std::move(r.value());
        auto ss = sessions::load_all(db);
        if (!ss) return ss.status();
        state.sessions = std::move(ss.value());
        if (Status e = streams::purge_expired(db, now_wall_ms); !e) return e;
        auto st = streams::load_state(db);
        if (!st) return st.status();
        state.streams = std::move(st.value());
        return {};
    });
    if (!s) return s;
    return state;
}

void SqliteStore::start(uv_loop_t* loop) {
    assert(!running());
    loop_thread_ = std::this_thread::get_id();
    closed_ = false;
    stopping_ = false;
    handles_ = new Handles;
    handles_->store = this;
    handles_->prepare.data = handles_;
    handles_->async.data = handles_;
    uv_prepare_init(loop, &handles_->prepare);
    uv_prepare_start(&handles_->prepare, &Handles::on_prepare);
    uv_async_init(loop, &handles_->async, &Handles::on_async);
    handles_->open = 2;
    {
        std::lock_guard<std::mutex> lock(mu_);
        posted_ = pending_.size();
        completed_seen_ = 0;
        completed_ops_ = 0;
    }
    referenced_ = true;
    set_referenced_in_loop(!pending_.empty());
    writer_ = std::thread([this] { writer_main(); });
}

void SqliteStore::close() {
    if (!running()) return;
    assert(std::this_thread::get_id() == loop_thread_);
    hand_over_in_loop();
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();  // the writer drains and commits everything handed over before it exits
    Handles* h = handles_;
    handles_ = nullptr;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&h->prepare), &Handles::on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&h->async), &Handles::on_close);
    drain_completions_in_loop();
}

void SqliteStore::post(Op op) {
    assert(!running() || std::this_thread::get_id() == loop_thread_);
    if (closed_) {
        if (op.done) op.done(Status::db_error("the store is closed"));
        return;
    }
    pending_.push_back(std::move(op));
    ++posted_;
    if (!referenced_ && running()) set_referenced_in_loop(true);
}

void SqliteStore::set_referenced_in_loop(bool referenced) {
    if (referenced == referenced_ || handles_ == nullptr) return;
    referenced_ = referenced;
    auto* prepare = reinterpret_cast<uv_handle_t*>(&handles_->prepare);
    auto* async = reinterpret_cast<uv_handle_t*>(&handles_->async);
    if (referenced) {
        uv_ref(prepare);
        uv_ref(async);
    } else {
        uv_unref(prepare);
        uv_unref(async);
    }
}

void SqliteStore::hand_over_in_loop() {
    if (pending_.empty()) return;
    ++handovers_;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (incoming_.empty()) {
            incoming_.swap(pending_);  // the common case: no copy, and pending_ reuses the old buffer
        } else {
            for (Op& op : pending_) incoming_.push_back(std::move(op));
            pending_.clear();
        }
        incoming_ends_.push_back(incoming_.size());
    }
    wake_.notify_one();
}

void SqliteStore::drain_completions_in_loop() {
    // A local vector: a callback may post, or even close() the store, which drains again. It
    // takes the spare buffer, and the writer gets it back with the swap: neither side grows a
    // vector from nothing each batch.
    std::vector<Completion> ready = std::move(spare_completions_);
    ready.clear();
    uint64_t completed = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        ready.swap(completions_);
        completed = completed_ops_;
    }
    completed_seen_ = completed;
    // Every op posted so far has finished and its completion is in `ready`: let the loop end.
    if (completed == posted_) set_referenced_in_loop(false);
    for (Completion& c : ready) {
        if (c.done) c.done(c.status);
        else if (!c.status.ok() && on_error_) on_error_(c.status);
    }
    ready.clear();
    if (ready.capacity() > spare_completions_.capacity()) spare_completions_ = std::move(ready);
}

void SqliteStore::writer_main() {
    std::vector<Op> batch;
    std::vector<Completion> done;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            wake_.wait(lock, [this] { return !incoming_.empty() || stopping_; });
            if (incoming_.empty()) return;  // stopping, and everything is committed
            take_batch_locked(batch);
        }
        run_batch(batch, done);
        {
            std::lock_guard<std::mutex> lock(mu_);
            completed_ops_ += batch.size();
            if (completions_.empty()) {
                completions_.swap(done);
            } else {
                for (Completion& c : done) completions_.push_back(std::move(c));
            }
        }
        batch.clear();
        done.clear();
        // Sent after every batch, with completions or not: the loop counts finished ops.
        // Safe without the lock: close() joins this thread before it closes the handle.
        uv_async_send(&handles_->async);
    }
}

void SqliteStore::take_batch_locked(std::vector<Op>& batch) {
    if (incoming_.size() <= kMaxBatch) {
        batch.swap(incoming_);  // the common case: everything, no copy
        incoming_ends_.clear();
        return;
    }
    // A backlog: whole hand-overs (loop turns) from the oldest, as many as fit in kMaxBatch,
    // at least one; a turn is never split across transactions.
    size_t take = incoming_ends_.front();
    size_t units = 1;
    while (units < incoming_ends_.size() && incoming_ends_[units] <= kMaxBatch) take = incoming_ends_[units++];
    auto end = incoming_.begin() + static_cast<std::ptrdiff_t>(take);
    batch.assign(std::make_move_iterator(incoming_.begin()), std::make_move_iterator(end));
    incoming_.erase(incoming_.begin(), end);
    incoming_ends_.erase(incoming_ends_.begin(), incoming_ends_.begin() + static_cast<std::ptrdiff_t>(units));
    for (size_t& e : incoming_ends_) e -= take;
}

void SqliteStore::run_batch(std::vector<Op>& batch, std::vector<Completion>& out) {
    const size_t first = out.size();
    const auto began = std::chrono::steady_clock::now();
    Status failure;  // set when the whole batch is lost
    if (Status s = db_->exec("BEGIN IMMEDIATE"); !s) failure = s;
    for (Op& op : batch) {
        Status s = failure.ok() ? op.run(*db_) : failure;
        if (failure.ok() && db_->autocommit()) {
            // SQLite rolled the transaction back (full disk, I/O error): what ran before this op
            // is gone too, and what follows must not run outside a transaction.
            failure = Status::db_error(s.ok() ? db_->errmsg() : s.message());
        }
        // A completion is kept for every op with a callback, and for failed ops without one
        // (reported to the error handler).
        if (op.done || !s.ok()) out.push_back(Completion{std::move(op.done), std::move(s)});
    }
    if (failure.ok()) {
        if (Status c = db_->exec("COMMIT"); !c) {
            db_->exec("ROLLBACK");
            failure = c;
        }
    } else if (!db_->autocommit()) {
        db_->exec("ROLLBACK");
    }
    if (!failure.ok()) {
        // Every callback hears of the failure; the error handler hears of it once, for all the
        // ops posted without a callback.
        size_t kept = first;
        for (size_t i = first; i < out.size(); ++i) {
            if (!out[i].done) continue;
            out[i].status = failure;
            if (kept != i) out[kept] = std::move(out[i]);
            ++kept;
        }
        out.resize(kept);
        out.push_back(Completion{{}, failure});
        failed_batches_.fetch_add(1, std::memory_order_relaxed);
    }
    const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began);
    const auto ns = static_cast<uint64_t>(took.count());
    commit_buckets_[core::commit_latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
    commit_ns_.fetch_add(ns, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    ops_.fetch_add(batch.size(), std::memory_order_relaxed);
    if (batch.size() > max_batch_.load(std::memory_order_relaxed))
        max_batch_.store(batch.size(), std::memory_order_relaxed);
}

WriterStats SqliteStore::stats() const {
    return WriterStats{batches_.load(), ops_.load(), max_batch_.load(), failed_batches_.load()};
}

core::CommitLatency SqliteStore::commit_latency() const {
    core::CommitLatency h;
    for (size_t i = 0; i < h.counts.size(); ++i) h.counts[i] = commit_buckets_[i].load(std::memory_order_relaxed);
    h.sum_ns = commit_ns_.load(std::memory_order_relaxed);
    return h;
}

}  // namespace herald::storage
