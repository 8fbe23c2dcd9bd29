// auth_worker on a real libuv loop (DESIGN: Threads): checks run on the thread pool, every
// completion comes back on the loop thread, and the loop closes cleanly afterwards.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker/auth/auth_worker.h"
#include "broker/auth/base64.h"

using namespace herald::auth;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-worker";
constexpr int64_t kNow = 1'700'000'000;

std::string hs_token(const std::string& payload) {
    std::string in = base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode(payload);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
         reinterpret_cast<const unsigned char*>(in.data()), in.size(), mac, &len);
    return in + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
}

// Runs `loop` until every queued check has completed, then closes it.
void run_and_close(uv_loop_t* loop) {
    REQUIRE(uv_run(loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(loop) == 0);
}

}  // namespace

TEST_CASE("check_async: every kind completes on the loop thread") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const auto loop_thread = std::this_thread::get_id();
    std::map<uint64_t, Result> results;
    int on_loop_thread = 0;
    auto done = [&](Result r) {
        if (std::this_thread::get_id() == loop_thread) on_loop_thread++;
        results[r.id] = std::move(r);
    };

    std::string stored = hash_password("pw", 1000);
    auto jwt = std::make_shared<JwtVerifier>();
    JwtConfig jc;
    jc.hs256_secret = kSecret;
    REQUIRE(jwt->load(jc).empty());
    auto pwfile = std::make_shared<PasswordFile>();
    std::string err;
    REQUIRE(pwfile->load("alice:$7$101$6ki5yjybboBwiWCv$8UvEqXO6vyL1x3H0Rqzo3CX0xDqHTr0NEj5phvS8tZVP6"
                         "2N3DkWNqSwIb4c6UuiVedBFUsYeGeIU5bi+k1GpBA==\n",
                         err));

    auto queue = [&](Request r) { REQUIRE(check_async(&loop, std::move(r), done) == 0); };
    Request r;
    r.id = 1, r.kind = Request::Kind::StoredHash, r.username = "alice", r.secret = "pw";
    r.stored_hash = stored;
    queue(r);
    r.id = 2, r.secret = "wrong";
    queue(r);
    r = {};
    r.id = 3, r.kind = Request::Kind::Token, r.username = "alice", r.now_unix = kNow;
    r.secret = hs_token(R"({"sub":"alice","exp":1700000600})");
    r.jwt = jwt;
    queue(r);
    r.id = 4, r.secret = hs_token(R"({"sub":"alice","exp":1600000000})");
    queue(r);
    r = {};
    r.id = 5, r.kind = Request::Kind::PasswordFile, r.username = "alice";
    r.secret = "correct horse", r.password_file = pwfile;
    queue(r);
    r.id = 6, r.username = "bob";
    queue(r);
    r = {};
    r.id = 7, r.kind = Request::Kind::MakeHash, r.secret = "new pw", r.iterations = 1000;
    queue(r);
    r = {};
    r.id = 8, r.kind = Request::Kind::Token, r.secret = "x.y.z";  // no verifier configured
    queue(r);
    r = {};
    r.id = 9, r.kind = Request::Kind::StoredHash, r.secret = "correct horse";
    r.stored_hash = "$7$101$6ki5yjybboBwiWCv$8UvEqXO6vyL1x3H0Rqzo3CX0xDqHTr0NEj5phvS8tZVP62N3DkWNqSwIb4c6"
                    "UuiVedBFUsYeGeIU5bi+k1GpBA==";
    queue(r);

    CHECK(results.empty());  // never completed inline
    run_and_close(&loop);

    REQUIRE(results.size() == 9);
    CHECK(on_loop_thread == 9);
    CHECK(results[1].ok);
    CHECK(results[1].rehash);  // 1000 iterations < 210,000: upgrade it
    CHECK_FALSE(results[2].ok);
    CHECK(results[2].reason == "bad user name or password");
    CHECK(results[3].ok);
    CHECK_FALSE(results[4].ok);
    CHECK(results[4].reason == "token expired");
    CHECK(results[5].ok);
    CHECK_FALSE(results[6].ok);
    CHECK(results[7].ok);
    CHECK(verify_password("new pw", results[7].hash));
    CHECK_FALSE(results[8].ok);
    CHECK(results[8].reason == "JWT tokens are not configured");
    CHECK(results[9].ok);
    CHECK(results[9].rehash);  // imported mosquitto hash
}

TEST_CASE("check_async: a result for a closed connection is recognised and dropped") {
    // The pattern the core follows: connections keyed by id, a generation bumped on close.
    struct Conn {
        uint32_t generation = 0;
        bool authenticated = false;
    };
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::map<uint32_t, Conn> conns{{10, {}}, {11, {}}};
    auto ticket = [&](uint32_t conn_id) {
        return (uint64_t{conn_id} << 32) | conns[conn_id].generation;
    };
    int dropped = 0;
    auto done = [&](Result r) {
        auto it = conns.find(static_cast<uint32_t>(r.id >> 32));
        if (it == conns.end() || it->second.generation != static_cast<uint32_t>(r.id)) {
            dropped++;
            return;
        }
        it->second.authenticated = r.ok;
    };
    std::string stored = hash_password("pw", 1000);
    for (uint32_t id : {10u, 11u}) {
        Request r;
        r.id = ticket(id), r.username = "u", r.secret = "pw", r.stored_hash = stored;
        REQUIRE(check_async(&loop, std::move(r), done) == 0);
    }
    conns[10].generation++;  // connection 10 closed and was reused before the result came
    conns.erase(11);         // connection 11 is gone
    run_and_close(&loop);
    CHECK(dropped == 2);
    CHECK_FALSE(conns[10].authenticated);
}

TEST_CASE("check_async: many checks in flight all complete once") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::string stored = hash_password("pw", 2000);
    std::vector<int> calls(64, 0);
    for (uint64_t i = 0; i < calls.size(); i++) {
        Request r;
        r.id = i, r.username = "u", r.secret = i % 2 ? "pw" : "nope", r.stored_hash = stored;
        REQUIRE(check_async(&loop, std::move(r), [&calls](Result res) {
            calls[res.id]++;
            CHECK(res.ok == (res.id % 2 == 1));
        }) == 0);
    }
    run_and_close(&loop);
    for (int c : calls) CHECK(c == 1);
}
