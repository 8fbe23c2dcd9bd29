// Storage: a process killed with SIGKILL loses nothing whose completion it saw. A child
// process posts writes in a stream of loop turns and reports each completed one on a pipe;
// the parent kills it mid-stream, then reopens the file and finds every reported write.
#include <csignal>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// The child: writes session messages with increasing seq, 20 per loop turn, and writes the
// seq of each completed one to `fd`. Never returns.
[[noreturn]] void child_main(const std::string& path, int fd) {
    auto opened = SqliteStore::open(path, Durability::Process, kNow);
    if (!opened.ok()) _exit(2);
    SqliteStore& store = *opened.value().store;
    uv_loop_t loop;
    uv_loop_init(&loop);
    store.start(&loop);
    struct Ctx {
        SqliteStore* store;
        int fd;
        uint64_t next = 1;
    } ctx{&store, fd};
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    idle.data = &ctx;
    uv_idle_start(&idle, [](uv_idle_t* h) {
        auto* c = static_cast<Ctx*>(h->data);
        for (int i = 0; i < 20; ++i, ++c->next) {
            uint64_t seq = c->next;
            c->store->session_message_put(
                "victim", {seq, MessageState::Queued, 0, "t", payload(std::string(200, 'x')), 1, false, {}, 0},
                [fd = c->fd, seq](const Status& s) {
                    if (!s.ok()) _exit(3);
                    if (write(fd, &seq, sizeof seq) != static_cast<ssize_t>(sizeof seq)) _exit(4);
                });
        }
    });
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
}

}  // namespace

TEST_CASE("storage: every write whose completion was seen survives SIGKILL of the process") {
    TempDir dir;
    {  // the schema and the session row made before the race begins (the start drops
       // messages whose session is gone)
        auto store = open_store(dir.db());
        REQUIRE(store->exec_now([](Db& db) { return sessions::save(db, {"victim", "v", 3600, 0}); }).ok());
    }
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(dir.db(), fds[1]);
    }
    close(fds[1]);
    std::set<uint64_t> completed;
    uint64_t seq = 0;
    // Kill after 2000 completions: well inside the stream, with writes still in flight.
    while (completed.size() < 2000 && read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq))
        completed.insert(seq);
    kill(pid, SIGKILL);
    // Completions already written to the pipe before the kill count too.
    while (read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq)) completed.insert(seq);
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    REQUIRE(completed.size() >= 2000);

    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE_MESSAGE(opened.ok(), opened.error());
    REQUIRE(opened.value().state.sessions.size() == 1);  // the one written before
    std::set<uint64_t> in_file;
    REQUIRE(opened.value().store->exec_now([&](Db& db) {
        auto rows = session_messages::load(db, "victim");
        if (!rows.ok()) return rows.status();
        for (const auto& m : rows.value()) in_file.insert(m.seq);
        return Status{};
    }).ok());
    size_t missing = 0;
    for (uint64_t s : completed) missing += in_file.count(s) == 0 ? 1 : 0;
    CHECK(missing == 0);
    MESSAGE(completed.size() << " completed before the kill, " << in_file.size() << " in the file");
    CHECK(in_file.size() >= completed.size());
}
