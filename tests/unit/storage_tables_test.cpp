// Storage: every table's operations round trip through a real SQLite file (synchronously,
// with exec_now; the asynchronous path is storage_writer_test.cpp).
#include <map>

#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// Runs `fn` in a transaction and requires that it commits.
template <class F>
void tx(SqliteStore& store, F fn) {
    Status s = store.exec_now([&](Db& db) {
        fn(db);
        return Status{};
    });
    REQUIRE_MESSAGE(s.ok(), s.message());
}

template <class T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), r.error());
    return std::move(r.value());
}

}  // namespace

TEST_CASE("storage users: create, get, duplicate, password, role, paged list, delete") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(users::create(db, {"alice", "$7$hash-a", Role::Admin, 100}).ok());
        Status dup = users::create(db, {"alice", "other", Role::User, 200});
        CHECK(dup.code() == Code::Exists);
        CHECK(dup.message() == "user 'alice' already exists");
        for (const char* n : {"bob", "carol", "dave", "erin"}) CHECK(users::create(db, {n, "h", Role::User, 1}).ok());

        auto a = ok(users::get(db, "alice"));
        REQUIRE(a.has_value());
        CHECK(a->password_hash == "$7$hash-a");
        CHECK(a->role == Role::Admin);
        CHECK(a->created_at_ms == 100);
        CHECK_FALSE(ok(users::get(db, "nobody")).has_value());

        CHECK(users::set_password_hash(db, "bob", "new").ok());
        CHECK(ok(users::get(db, "bob"))->password_hash == "new");
        CHECK(users::set_password_hash(db, "nobody", "x").code() == Code::NotFound);
        CHECK(users::set_role(db, "bob", Role::Admin).ok());
        CHECK(ok(users::get(db, "bob"))->role == Role::Admin);
        CHECK(users::set_role(db, "nobody", Role::Admin).code() == Code::NotFound);

        CHECK(ok(users::count(db)) == 5);
        auto p1 = ok(users::list(db, "", 2));
        REQUIRE(p1.items.size() == 2);
        CHECK(p1.items[0].name == "alice");
        CHECK(p1.items[1].name == "bob");
        CHECK(p1.next == "bob");
        auto p2 = ok(users::list(db, p1.next, 2));
        REQUIRE(p2.items.size() == 2);
        CHECK(p2.items[0].name == "carol");
        auto p3 = ok(users::list(db, p2.next, 2));
        REQUIRE(p3.items.size() == 1);
        CHECK(p3.items[0].name == "erin");
        CHECK(p3.next.empty());
        CHECK(ok(users::list(db, "", 5)).next.empty());  // exactly one full page: no next

        // Deleting a user takes its contacts, memberships, ban, devices and presence along.
        CHECK(contacts::add(db, "alice", "bob", 1).ok());
        CHECK(groups::create(db, "devs", 1).ok());
        CHECK(groups::add_member(db, "devs", "bob", 1).ok());
        CHECK(bans::set(db, {"bob", 10, "spam"}).ok());
        CHECK(devices::seen(db, {"bob", "phone", 5}).ok());
        CHECK(presence::set(db, {"bob", 3, 4, "away", ""}).ok());
        CHECK(users::remove(db, "bob").ok());
        CHECK(users::remove(db, "bob").code() == Code::NotFound);
        CHECK_FALSE(ok(users::get(db, "bob")).has_value());
        CHECK(ok(contacts::of_user(db, "alice")).empty());
        CHECK(ok(groups::members(db, "devs")).empty());
        CHECK_FALSE(ok(bans::get(db, "bob")).has_value());
        CHECK(ok(devices::of_user(db, "bob")).empty());
        CHECK_FALSE(ok(presence::get(db, "bob")).has_value());
    });
}

TEST_CASE("storage contacts: symmetric pairs, stored once") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(contacts::add(db, "zoe", "adam", 1).ok());
        CHECK(contacts::add(db, "adam", "zoe", 2).ok());  // the same pair: no error, no second row
        CHECK(contacts::add(db, "zoe", "mia", 3).ok());
        CHECK(contacts::add(db, "zoe", "zoe", 3).code() == Code::Invalid);
        CHECK(ok(contacts::are_contacts(db, "adam", "zoe")));
        CHECK(ok(contacts::are_contacts(db, "zoe", "adam")));
        CHECK_FALSE(ok(contacts::are_contacts(db, "adam", "mia")));
        CHECK(ok(contacts::of_user(db, "zoe")) == std::vector<std::string>{"adam", "mia"});
        CHECK(ok(contacts::of_user(db, "adam")) == std::vector<std::string>{"zoe"});
        Query q = db.query("SELECT count(*) FROM contacts");
        REQUIRE(q.next());
        CHECK(q.i64(0) == 2);
        using Pairs = std::vector<std::pair<std::string, std::string>>;
        CHECK(ok(contacts::all_pairs(db)) == Pairs{{"adam", "zoe"}, {"mia", "zoe"}});
    });
    tx(*store, [](Db& db) {
        CHECK(contacts::remove(db, "adam", "zoe").ok());  // either order
        CHECK(contacts::remove(db, "zoe", "adam").code() == Code::NotFound);
        CHECK(ok(contacts::of_user(db, "zoe")) == std::vector<std::string>{"mia"});
    });
}

TEST_CASE("storage groups: create, members, groups of a user, paged list, delete") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(groups::create(db, "devs", 10).ok());
        CHECK(groups::create(db, "devs", 11).code() == Code::Exists);
        CHECK(groups::create(db, "ops", 12).ok());
        CHECK(groups::add_member(db, "devs", "bob", 20).ok());
        CHECK(groups::add_member(db, "devs", "amy", 21).ok());
        CHECK(groups::add_member(db, "devs", "amy", 22).ok());  // twice: still one membership
        CHECK(groups::add_member(db, "ops", "amy", 23).ok());
        CHECK(groups::add_member(db, "nope", "amy", 24).code() == Code::NotFound);

        auto members = ok(groups::members(db, "devs"));
        REQUIRE(members.size() == 2);
        CHECK(members[0].user == "amy");
        CHECK(members[0].joined_at_ms == 21);
        CHECK(members[1].user == "bob");
        CHECK(ok(groups::of_user(db, "amy")) == std::vector<std::string>{"devs", "ops"});
        CHECK(ok(groups::get(db, "ops"))->created_at_ms == 12);

        auto page = ok(groups::list(db, "", 1));
        REQUIRE(page.items.size() == 1);
        CHECK(page.items[0].name == "devs");
        CHECK(page.next == "devs");
        page = ok(groups::list(db, page.next, 1));
        CHECK(page.items[0].name == "ops");
        CHECK(page.next.empty());

        CHECK(groups::remove_member(db, "devs", "bob").ok());
        CHECK(groups::remove_member(db, "devs", "bob").code() == Code::NotFound);
        CHECK(groups::remove(db, "devs").ok());
        CHECK(groups::remove(db, "devs").code() == Code::NotFound);
        CHECK_FALSE(ok(groups::get(db, "devs")).has_value());
        CHECK(ok(groups::members(db, "devs")).empty());
        CHECK(ok(groups::of_user(db, "amy")) == std::vector<std::string>{"ops"});
    });
}

TEST_CASE("storage bans: set replaces, active by time, remove, purge") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(bans::set(db, {"bob", 1000, "spam"}).ok());
        CHECK(bans::set(db, {"bob", 5000, "more spam"}).ok());
        CHECK(bans::set(db, {"eve", 2000, "phishing"}).ok());
        auto b = ok(bans::get(db, "bob"));
        REQUIRE(b.has_value());
        CHECK(b->until_ms == 5000);
        CHECK(b->reason == "more spam");
        auto active = ok(bans::active(db, 3000));
        REQUIRE(active.size() == 1);
        CHECK(active[0].user == "bob");
        CHECK(bans::purge_expired(db, 3000).ok());
        CHECK_FALSE(ok(bans::get(db, "eve")).has_value());
        CHECK(bans::remove(db, "bob").ok());
        CHECK(bans::remove(db, "bob").code() == Code::NotFound);
    });
}

TEST_CASE("storage devices: last seen per (user, client id)") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(devices::seen(db, {"amy", "phone", 10}).ok());
        CHECK(devices::seen(db, {"amy", "laptop", 20}).ok());
        CHECK(devices::seen(db, {"amy", "phone", 30}).ok());
        auto d = ok(devices::of_user(db, "amy"));
        REQUIRE(d.size() == 2);
        CHECK(d[0].client_id == "laptop");
        CHECK(d[1].client_id == "phone");
        CHECK(d[1].last_seen_ms == 30);
        CHECK(devices::purge_older(db, 25).ok());
        CHECK(ok(devices::of_user(db, "amy")).size() == 1);
        CHECK(devices::remove(db, "amy", "phone").ok());
        CHECK(devices::remove(db, "amy", "phone").code() == Code::NotFound);
    });
}

TEST_CASE("storage retained: set replaces by topic, binary payload and properties kept, expiry purged") {
    TempDir dir;
    auto store = open_store(dir.db());
    mqtt::Properties props;
    props.content_type = "application/json";
    props.user_properties = {{"a", "b"}};
    std::string binary("\x00\x01\x02\xff", 4);
    tx(*store, [&](Db& db) {
        CHECK(retained::set(db, {"a/b", payload("old"), 0, {}, 0}).ok());
        CHECK(retained::set(db, {"a/b", payload(binary), 2, props, 0}).ok());
        CHECK(retained::set(db, {"empty", payload(""), 1, {}, 0}).ok());
        CHECK(retained::set(db, {"soon", payload("x"), 1, {}, kNow + 10}).ok());
        CHECK(retained::set(db, {"gone", payload("x"), 1, {}, kNow - 10}).ok());
        CHECK(retained::erase(db, "nothing-here").ok());
    });
    // Reopening purges what expired by its "now" and loads the rest.
    store.reset();
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE(opened.ok());
    auto& r = opened.value().state.retained;
    REQUIRE(r.size() == 3);
    CHECK(r[0].topic == "a/b");
    CHECK(*r[0].payload == binary);
    CHECK(r[0].qos == 2);
    CHECK(r[0].props == props);
    CHECK(r[1].topic == "empty");
    CHECK(r[1].payload->empty());
    CHECK(r[2].topic == "soon");
    CHECK(r[2].expiry_at_wall_ms == kNow + 10);
    tx(*opened.value().store, [](Db& db) {
        CHECK(retained::erase(db, "a/b").ok());
        CHECK(ok(retained::load_all(db)).size() == 2);
    });
}

TEST_CASE("storage sessions: save, subscriptions, messages in seq order, load, expiry, delete") {
    TempDir dir;
    auto store = open_store(dir.db());
    mqtt::Properties props;
    props.subscription_identifiers = {7};
    props.correlation_data = "corr";
    mqtt::SubscribeOptions opts{2, true, true, 2};
    tx(*store, [&](Db& db) {
        CHECK(sessions::save(db, {"phone-1", "alice", 3600, 0}).ok());
        CHECK(sessions::save(db, {"anon", std::nullopt, 0xFFFFFFFF, kNow - 1'000'000'000}).ok());
        CHECK(sessions::save(db, {"stale", "bob", 60, kNow - 61'000}).ok());  // expired at kNow - 1 s
        CHECK(sessions::subscription_set(db, "phone-1", {"users/alice/#", pack_options(opts), 7}).ok());
        CHECK(sessions::subscription_set(db, "phone-1", {"a/+", 1, 0}).ok());
        CHECK(sessions::subscription_set(db, "phone-1", {"a/+", 2, 9}).ok());  // replaces
        CHECK(sessions::subscription_set(db, "stale", {"x", 1, 0}).ok());
        CHECK(session_messages::put(db, "phone-1", {2, MessageState::Queued, 0, "a/2", payload("two"), 1, false, {}, 0}).ok());
        CHECK(session_messages::put(db, "phone-1",
                                    {1, MessageState::InflightPublish, 17, "a/1", payload("one"), 2, true, props, kNow + 5}).ok());
        CHECK(session_messages::put(db, "phone-1", {3, MessageState::Queued, 0, "a/3", payload("three"), 1, false, {}, 0}).ok());
        CHECK(session_messages::put(db, "stale", {4, MessageState::Queued, 0, "x", payload("x"), 1, false, {}, 0}).ok());
        CHECK(session_messages::set_state(db, "phone-1", 1, MessageState::InflightPubrel, 17).ok());
        CHECK(session_messages::set_state(db, "phone-1", 99, MessageState::InflightPubrel, 1).code() == Code::NotFound);
        CHECK(session_messages::erase(db, "phone-1", 3).ok());
        CHECK(sessions::subscription_erase(db, "phone-1", "nothing").ok());
    });
    store.reset();
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE(opened.ok());
    auto& ss = opened.value().state.sessions;
    REQUIRE(ss.size() == 2);  // "stale" expired while the broker was down
    CHECK(ss[0].session.client_id == "anon");
    CHECK_FALSE(ss[0].session.username.has_value());
    CHECK(ss[0].session.expiry_interval == 0xFFFFFFFF);
    const SavedSession& p = ss[1];
    CHECK(p.session.client_id == "phone-1");
    CHECK(p.session.username == std::optional<std::string>("alice"));
    CHECK(p.session.expiry_interval == 3600);
    REQUIRE(p.subscriptions.size() == 2);
    CHECK(p.subscriptions[0].filter == "a/+");
    CHECK(p.subscriptions[0].options == 2);
    CHECK(p.subscriptions[0].subscription_id == 9);
    CHECK(p.subscriptions[1].filter == "users/alice/#");
    mqtt::SubscribeOptions back = unpack_options(p.subscriptions[1].options);
    CHECK(back.qos == 2);
    CHECK(back.no_local);
    CHECK(back.retain_as_published);
    CHECK(back.retain_handling == 2);
    REQUIRE(p.messages.size() == 2);
    CHECK(p.messages[0].seq == 1);
    CHECK(p.messages[0].state == MessageState::InflightPubrel);
    CHECK(p.messages[0].packet_id == 17);
    CHECK(p.messages[0].topic == "a/1");
    CHECK(*p.messages[0].payload == "one");
    CHECK(p.messages[0].qos == 2);
    CHECK(p.messages[0].retain);
    CHECK(p.messages[0].props == props);
    CHECK(p.messages[0].expiry_at_wall_ms == kNow + 5);
    CHECK(p.messages[1].seq == 2);
    CHECK(p.messages[1].state == MessageState::Queued);

    tx(*opened.value().store, [](Db& db) {
        CHECK(ok(sessions::load(db, "stale")) == std::nullopt);  // purged with its parts
        CHECK(ok(session_messages::load(db, "stale")).empty());
        auto one = ok(sessions::load(db, "phone-1"));
        REQUIRE(one.has_value());
        CHECK(one->messages.size() == 2);
        CHECK(session_messages::clear(db, "phone-1").ok());
        CHECK(ok(session_messages::load(db, "phone-1")).empty());
        CHECK(sessions::remove(db, "phone-1").ok());
        CHECK_FALSE(ok(sessions::load(db, "phone-1")).has_value());
        Query q = db.query("SELECT count(*) FROM session_subscriptions");
        REQUIRE(q.next());
        CHECK(q.i64(0) == 0);
    });
}

TEST_CASE("storage streams: append, read after a seq, last seq, erase through, expiry; cursors") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(ok(streams::last_seq(db, "users/amy")) == 0);
        for (uint64_t seq = 1; seq <= 5; ++seq) {
            StreamEntryRecord e{"users/amy", seq, "users/amy/bob", payload("m" + std::to_string(seq)), 1, {}, "bob",
                                kNow + seq, seq == 5 ? kNow + 100 : 0};
            CHECK(streams::append(db, e).ok());
        }
        CHECK(streams::append(db, {"users/amy", 3, "t", payload("dup"), 1, {}, "bob", 0, 0}).code() == Code::Exists);
        CHECK(streams::append(db, {"groups/devs", 1, "groups/devs/bob", payload("g"), 2, {}, "bob", 0, 0}).ok());
        CHECK(ok(streams::last_seq(db, "users/amy")) == 5);
        auto after2 = ok(streams::read(db, "users/amy", 2, 2));
        REQUIRE(after2.size() == 2);
        CHECK(after2[0].seq == 3);
        CHECK(*after2[0].payload == "m3");
        CHECK(after2[0].sender == "bob");
        CHECK(after2[0].ts_ms == kNow + 3);
        CHECK(after2[1].seq == 4);
        CHECK(streams::erase_through(db, "users/amy", 2).ok());
        CHECK(ok(streams::read(db, "users/amy", 0, 100)).front().seq == 3);
        CHECK(streams::purge_expired(db, kNow + 100).ok());
        CHECK(ok(streams::read(db, "users/amy", 0, 100)).size() == 2);  // 3 and 4
        CHECK(ok(streams::last_seq(db, "groups/devs")) == 1);

        CHECK(streams::cursor_set(db, {"users/amy", "amy", "phone", 3}).ok());
        CHECK(streams::cursor_set(db, {"users/amy", "amy", "phone", 4}).ok());
        CHECK(streams::cursor_set(db, {"users/amy", "amy", "laptop", 1}).ok());
        CHECK(ok(streams::cursor_get(db, "users/amy", "amy", "phone")) == std::optional<uint64_t>(4));
        CHECK_FALSE(ok(streams::cursor_get(db, "users/amy", "amy", "tablet")).has_value());
        auto cursors = ok(streams::cursors_of(db, "users/amy"));
        REQUIRE(cursors.size() == 2);
        CHECK(cursors[0].client_id == "laptop");
    });
}

TEST_CASE("storage streams: read as a group member skips entries from before the join; start state") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK(groups::create(db, "devs", kNow).ok());
        CHECK(groups::add_member(db, "devs", "zed", kNow + 10).ok());
        for (uint64_t seq = 1; seq <= 4; ++seq)
            CHECK(streams::append(db, {"groups/devs", seq, "groups/devs/bob", payload("g"), 1, {}, "bob",
                                       kNow + seq * 5, 0}).ok());  // ts 5, 10, 15, 20 after kNow
        auto seen = ok(streams::read_as_member(db, "groups/devs", "devs", "zed", 0, 100));
        REQUIRE(seen.size() == 4);
        CHECK(seen[0].topic.empty());  // before the join: marked, still counted as read
        CHECK(seen[1].topic == "groups/devs/bob");  // stamped at the join
        CHECK(seen[3].seq == 4);
        CHECK(ok(streams::read_as_member(db, "groups/devs", "devs", "ann", 0, 100)).empty());  // not a member

        CHECK(streams::cursor_set(db, {"groups/devs", "zed", "phone", 2}).ok());
        CHECK(streams::cursor_set(db, {"users/amy", "amy", "phone", 9}).ok());  // entries gone
        auto st = ok(streams::load_state(db));
        std::map<std::string, uint64_t> last(st.last_seqs.begin(), st.last_seqs.end());
        CHECK(last == std::map<std::string, uint64_t>{{"groups/devs", 4}, {"users/amy", 9}});
        CHECK(st.cursors.size() == 2);
    });
}

TEST_CASE("storage presence: set replaces, get") {
    TempDir dir;
    auto store = open_store(dir.db());
    tx(*store, [](Db& db) {
        CHECK_FALSE(ok(presence::get(db, "amy")).has_value());
        CHECK(presence::set(db, {"amy", 1, 100, "available", ""}).ok());
        CHECK(presence::set(db, {"amy", 2, 200, "away", "In a meeting"}).ok());
        auto p = ok(presence::get(db, "amy"));
        REQUIRE(p.has_value());
        CHECK(p->seq == 2);
        CHECK(p->last_seen_ms == 200);
        CHECK(p->status == "away");
        CHECK(p->text == "In a meeting");
    });
}

TEST_CASE("storage: an error in exec_now rolls its transaction back") {
    TempDir dir;
    auto store = open_store(dir.db());
    Status s = store->exec_now([](Db& db) {
        CHECK(users::create(db, {"amy", "h", Role::User, 1}).ok());
        return users::create(db, {"amy", "h", Role::User, 1});
    });
    CHECK(s.code() == Code::Exists);
    tx(*store, [](Db& db) { CHECK_FALSE(ok(users::get(db, "amy")).has_value()); });
}
