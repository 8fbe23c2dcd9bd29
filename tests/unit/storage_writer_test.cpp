// Storage: the writer thread. Ops posted on the loop come back as completions on the loop
// thread after their transaction committed; one loop turn's ops share one transaction (group
// commit); an op's own error fails only that op; close() drains and commits, and the uv
// handles close so that uv_loop_close() succeeds; committed data survives close and reopen.
// Also the core::Store adapter over it.
#include <atomic>
#include <thread>

#include "storage/core_store.h"
#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// A one-shot timer that runs `fn` in a later loop turn (to post from inside the loop).
struct Later {
    uv_timer_t timer;
    std::function<void()> fn;
    Later(uv_loop_t* loop, uint64_t ms, std::function<void()> f) : fn(std::move(f)) {
        uv_timer_init(loop, &timer);
        timer.data = this;
        uv_timer_start(&timer, [](uv_timer_t* t) {
            auto* self = static_cast<Later*>(t->data);
            self->fn();
            uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        }, ms, 0);
    }
};

uint64_t count_rows(SqliteStore& store, const char* sql) {
    uint64_t n = 0;
    REQUIRE(store.exec_now([&](Db& db) {
        Query q = db.query(sql);
        if (q.next()) n = q.u64(0);
        return q.status();
    }).ok());
    return n;
}

}  // namespace

TEST_CASE("storage writer: completions run on the loop thread, in posting order, after commit") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    const auto loop_thread = std::this_thread::get_id();
    std::vector<int> order;
    bool all_on_loop = true;
    std::thread::id work_thread;
    for (int i = 0; i < 10; ++i) {
        store->write([&work_thread](Db&) {
            work_thread = std::this_thread::get_id();
            return Status{};
        }, [&, i](const Status& s) {
            CHECK(s.ok());
            all_on_loop = all_on_loop && std::this_thread::get_id() == loop_thread;
            order.push_back(i);
        });
    }
    REQUIRE(run_until(loop.get(), [&] { return order.size() == 10; }));
    CHECK(all_on_loop);
    CHECK(work_thread != loop_thread);  // the work ran on the writer thread
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    store->close();
}

TEST_CASE("storage writer: the store keeps the loop alive while ops are in flight, and only then") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    CHECK(uv_run(loop.get(), UV_RUN_NOWAIT) == 0);  // idle store: nothing keeps the loop running
    int done = 0;
    for (int i = 0; i < 100; ++i) store->device_seen({"amy", "d" + std::to_string(i), 1});  // no callbacks
    store->device_seen({"amy", "last", 1}, [&](const Status& s) { done += s.ok(); });
    uv_run(loop.get(), UV_RUN_DEFAULT);  // returns once everything posted has completed
    CHECK(done == 1);
    CHECK(store->stats().ops == 101);
    store->close();
    CHECK(count_rows(*store, "SELECT count(*) FROM devices") == 101);
}

TEST_CASE("storage writer: 1000 ops posted in one loop turn commit in one transaction") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    int done = 0;
    Later post_all(loop.get(), 0, [&] {
        for (int i = 0; i < 1000; ++i) {
            store->retained_set({"t/" + std::to_string(i), payload("p"), 1, {}, 0},
                                [&](const Status& s) {
                                    CHECK(s.ok());
                                    ++done;
                                });
        }
    });
    REQUIRE(run_until(loop.get(), [&] { return done == 1000; }));
    WriterStats st = store->stats();
    CHECK(st.ops == 1000);
    CHECK(st.batches == 1);
    CHECK(st.max_batch == 1000);
    store->close();
    CHECK(count_rows(*store, "SELECT count(*) FROM retained") == 1000);
}

TEST_CASE("storage writer: every transaction is timed in the commit latency histogram") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    CHECK(store->commit_latency().count() == 0);
    store->start(loop.get());
    // Ten loop turns, one op each: ten transactions (the writer is idle between them).
    int done = 0;
    std::function<void()> next;
    next = [&] {
        store->retained_set({"t/" + std::to_string(done), payload("p"), 1, {}, 0}, [&](const Status& s) {
            CHECK(s.ok());
            if (++done < 10) next();
        });
    };
    Later first(loop.get(), 0, [&] { next(); });
    REQUIRE(run_until(loop.get(), [&] { return done == 10; }));
    const core::CommitLatency h = store->commit_latency();
    const WriterStats st = store->stats();
    CHECK(st.batches == 10);
    CHECK(h.count() == st.batches);
    CHECK(h.sum_ns > 0);
    // A WAL commit without fsync on a temporary file: well under a second.
    CHECK(h.counts.back() == 0);
    store->close();
}

TEST_CASE("storage writer: ops posted over many loop turns while the writer is busy are grouped") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db(), Durability::Power);  // an fsync per commit: the writer lags behind
    store->start(loop.get());
    int posted = 0, done = 0;
    // An idle handle posts 10 ops per loop turn for 100 turns, never waiting for the writer.
    uv_idle_t idle;
    uv_idle_init(loop.get(), &idle);
    struct Ctx {
        SqliteStore* store;
        int* posted;
        int* done;
    } ctx{store.get(), &posted, &done};
    idle.data = &ctx;
    uv_idle_start(&idle, [](uv_idle_t* h) {
        auto* c = static_cast<Ctx*>(h->data);
        for (int i = 0; i < 10; ++i, ++*c->posted) {
            c->store->session_message_put("c1", {static_cast<uint64_t>(*c->posted), MessageState::Queued, 0, "t",
                                                 payload("x"), 1, false, {}, 0},
                                          [d = c->done](const Status& s) {
                                              CHECK(s.ok());
                                              ++*d;
                                          });
        }
        if (*c->posted >= 1000) uv_idle_stop(h);
    });
    REQUIRE(run_until(loop.get(), [&] { return done == 1000; }));
    uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
    WriterStats st = store->stats();
    CHECK(st.ops == 1000);
    MESSAGE("1000 ops over 100 loop turns: " << st.batches << " transactions, largest " << st.max_batch);
    CHECK(st.batches <= 100);  // never more than one per turn
    CHECK(st.failed_batches == 0);
    store->close();
    CHECK(count_rows(*store, "SELECT count(*) FROM session_messages") == 1000);
}

TEST_CASE("storage writer: a backlog is committed in steps of whole loop turns") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    // Hold the writer inside its first batch while the loop posts 10 turns of 1000 ops and
    // then one turn of 5000 (more than kMaxBatch, yet never split).
    std::atomic<bool> entered{false}, release{false};
    store->write([&](Db&) {
        entered.store(true);
        while (!release.load()) std::this_thread::yield();
        return Status{};
    });
    int turns = 0, done = 0;
    uint64_t most_outstanding = 0;
    uv_idle_t idle;
    uv_idle_init(loop.get(), &idle);
    struct Ctx {
        SqliteStore* store;
        int* turns;
        int* done;
        uint64_t* most;
        std::atomic<bool>* entered;
        std::atomic<bool>* release;
    } ctx{store.get(), &turns, &done, &most_outstanding, &entered, &release};
    idle.data = &ctx;
    uv_idle_start(&idle, [](uv_idle_t* h) {
        auto* c = static_cast<Ctx*>(h->data);
        if (!c->entered->load()) return;  // the writer is not inside the blocker yet
        if (*c->turns == 11) {
            *c->most = c->store->outstanding();
            c->release->store(true);
            uv_idle_stop(h);
            return;
        }
        int n = *c->turns == 10 ? 5000 : 1000;
        for (int i = 0; i < n; ++i) c->store->write([](Db&) { return Status{}; }, [d = c->done](const Status&) { ++*d; });
        ++*c->turns;
    });
    REQUIRE(run_until(loop.get(), [&] { return done == 15000; }));
    uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
    CHECK(most_outstanding == 15001);
    CHECK(store->outstanding() == 0);
    WriterStats st = store->stats();
    // The blocker alone, then 4 + 4 + 2 turns of 1000, then the turn of 5000 whole.
    CHECK(st.batches == 5);
    CHECK(st.max_batch == 5000);
    store->close();
}

TEST_CASE("storage writer: typed ops and reads round trip through the writer") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    int steps = 0;
    store->user_create({"amy", "h1", Role::User, 1}, [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->user_create({"amy", "h2", Role::User, 2}, [&](const Status& s) {
        CHECK(s.code() == Code::Exists);  // fails alone: the ops around it commit
        ++steps;
    });
    store->user_set_password_hash("amy", "h3", [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->contact_add("amy", "bob", 5, [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->group_create("devs", 5, [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->group_add_member("devs", "amy", 6, [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->ban_set({"eve", kNow + 1000, "spam"}, [&](const Status& s) { CHECK(s.ok()); ++steps; });
    store->device_seen({"amy", "phone", 7});
    store->session_save({"phone", "amy", 60, 0});
    store->subscription_set("phone", {"users/amy/#", 1, 0});
    store->session_message_put("phone", {1, MessageState::Queued, 0, "users/amy/bob", payload("hi"), 1, false, {}, 0});
    store->session_message_state("phone", 1, MessageState::InflightPublish, 5);
    // Reads posted behind the writes see them (same or later transaction, same order).
    store->user_get("amy", [&](Result<std::optional<UserRecord>> r) {
        REQUIRE(r.ok());
        REQUIRE(r.value().has_value());
        CHECK(r.value()->password_hash == "h3");
        ++steps;
    });
    store->users_list("", 10, [&](Result<Page<UserRecord>> r) {
        REQUIRE(r.ok());
        CHECK(r.value().items.size() == 1);
        ++steps;
    });
    store->contacts_of("bob", [&](Result<std::vector<std::string>> r) {
        REQUIRE(r.ok());
        CHECK(r.value() == std::vector<std::string>{"amy"});
        ++steps;
    });
    store->groups_of("amy", [&](Result<std::vector<std::string>> r) {
        CHECK(r.value() == std::vector<std::string>{"devs"});
        ++steps;
    });
    store->group_members("devs", [&](Result<std::vector<GroupMemberRecord>> r) {
        CHECK(r.value().size() == 1);
        ++steps;
    });
    store->groups_list("", 10, [&](Result<Page<GroupRecord>> r) {
        CHECK(r.value().items.size() == 1);
        ++steps;
    });
    store->ban_get("eve", [&](Result<std::optional<BanRecord>> r) {
        CHECK(r.value()->reason == "spam");
        ++steps;
    });
    store->devices_of("amy", [&](Result<std::vector<DeviceRecord>> r) {
        CHECK(r.value().size() == 1);
        ++steps;
    });
    store->session_load("phone", [&](Result<std::optional<SavedSession>> r) {
        REQUIRE(r.ok());
        REQUIRE(r.value().has_value());
        CHECK(r.value()->subscriptions.size() == 1);
        REQUIRE(r.value()->messages.size() == 1);
        CHECK(r.value()->messages[0].state == MessageState::InflightPublish);
        CHECK(r.value()->messages[0].packet_id == 5);
        ++steps;
    });
    store->session_load("nobody", [&](Result<std::optional<SavedSession>> r) {
        CHECK_FALSE(r.value().has_value());
        ++steps;
    });
    // The generic read, with a table function the store has no typed op for.
    store->read<uint64_t>([](Db& db) { return streams::last_seq(db, "users/amy"); },
                          [&](Result<uint64_t> r) {
                              CHECK(r.value() == 0);
                              ++steps;
                          });
    REQUIRE(run_until(loop.get(), [&] { return steps == 18; }));
    // Deletes and the rest, then close with them still pending: close() commits them.
    store->session_message_erase("phone", 1);
    store->subscription_erase("phone", "users/amy/#");
    store->session_delete("phone");
    store->user_set_role("amy", Role::Admin, {});
    store->group_remove_member("devs", "amy", {});
    store->contact_remove("amy", "bob", {});
    store->ban_remove("eve", {});
    store->retained_set({"r", payload("x"), 0, {}, 0});
    store->retained_erase("r");
    store->session_messages_clear("phone");
    store->group_delete("devs", {});
    store->close();
    CHECK(count_rows(*store, "SELECT count(*) FROM sessions") == 0);
    CHECK(count_rows(*store, "SELECT count(*) FROM contacts") == 0);
    CHECK(count_rows(*store, "SELECT count(*) FROM bans") == 0);
    CHECK(count_rows(*store, "SELECT count(*) FROM groups") == 0);
    CHECK(count_rows(*store, "SELECT count(*) FROM users WHERE role = 'admin'") == 1);
    store->user_delete("amy", [&](const Status& s) { CHECK(s.message() == "the store is closed"); });
}

TEST_CASE("storage writer: a batch that SQLite aborts fails every op in it, and the store goes on") {
    TempDir dir;
    Loop loop;
    auto store = open_store(dir.db());
    store->start(loop.get());
    std::vector<Code> codes;
    std::vector<std::string> errors;
    store->set_error_handler([&](const Status& s) { errors.push_back(s.message()); });
    Later later(loop.get(), 0, [&] {
        store->user_create({"amy", "h", Role::User, 1}, [&](const Status& s) { codes.push_back(s.code()); });
        store->device_seen({"amy", "phone", 7});  // no callback: the error handler hears of it
        // Simulates a full disk / I/O error: the transaction is rolled back under the batch.
        store->write([](Db& db) { return db.exec("ROLLBACK"); },
                     [&](const Status& s) { codes.push_back(s.code()); });
        store->user_create({"bob", "h", Role::User, 1}, [&](const Status& s) { codes.push_back(s.code()); });
    });
    REQUIRE(run_until(loop.get(), [&] { return codes.size() == 3; }));
    CHECK(codes == std::vector<Code>{Code::Db, Code::Db, Code::Db});
    CHECK(errors.size() == 1);
    CHECK(store->stats().failed_batches == 1);
    bool after = false;
    store->user_create({"carl", "h", Role::User, 1}, [&](const Status& s) { after = s.ok(); });
    REQUIRE(run_until(loop.get(), [&] { return after; }));
    store->close();
    CHECK(count_rows(*store, "SELECT count(*) FROM users") == 1);  // carl only
    CHECK(count_rows(*store, "SELECT count(*) FROM devices") == 0);
}

TEST_CASE("storage writer: committed data survives close and reopen") {
    TempDir dir;
    {
        Loop loop;
        auto store = open_store(dir.db(), Durability::Power);
        store->start(loop.get());
        bool done = false;
        store->session_save({"c1", "amy", 100, 0});
        store->retained_set({"keep/me", payload("v"), 1, {}, 0}, [&](const Status& s) { done = s.ok(); });
        REQUIRE(run_until(loop.get(), [&] { return done; }));
        store->close();
        store.reset();  // the store may go before the loop has run the handles' close callbacks
    }
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE(opened.ok());
    REQUIRE(opened.value().state.retained.size() == 1);
    CHECK(opened.value().state.retained[0].topic == "keep/me");
    REQUIRE(opened.value().state.sessions.size() == 1);
    CHECK(opened.value().state.sessions[0].session.client_id == "c1");
}

TEST_CASE("storage core adapter: retained messages through core::Store, expiry kept across a restart") {
    TempDir dir;
    ManualClock clock;
    {
        Loop loop;
        auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
        REQUIRE(opened.ok());
        SqliteStore& sqlite = *opened.value().store;
        CoreStore store(sqlite, clock, std::move(opened.value().state.retained));
        CHECK(store.retained_load().empty());
        sqlite.start(loop.get());
        core::Message m;
        m.topic = "a/b";
        m.payload = payload("hello");
        m.qos = 1;
        m.retain = true;
        m.props.content_type = "text/plain";
        m.expiry_at_mono_ms = clock.mono + 60'000;  // a minute from now
        store.retained_set(m);
        m.topic = "gone";
        m.expiry_at_mono_ms = 0;
        store.retained_set(m);
        store.retained_erase("gone");
        sqlite.close();
    }
    // Restart 30 s later, with a monotonic clock that started again from a small value.
    clock.wall += 30'000;
    clock.mono = 500;
    auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
    REQUIRE(opened.ok());
    CoreStore store(*opened.value().store, clock, std::move(opened.value().state.retained));
    auto loaded = store.retained_load();
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].topic == "a/b");
    CHECK(*loaded[0].payload == "hello");
    CHECK(loaded[0].retain);
    CHECK(loaded[0].props.content_type == std::optional<std::string>("text/plain"));
    CHECK(loaded[0].expiry_at_mono_ms == 500 + 30'000);  // 30 s left
    CHECK(store.retained_load().empty());                // handed out once
    // Expired while the broker was down: dropped at open.
    clock.wall += 31'000;
    auto later = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
    REQUIRE(later.ok());
    CHECK(later.value().state.retained.empty());
}
