// The uv_queue_work plumbing for auth checks, and the dispatch of one check by kind.
#include "broker/auth/auth_worker.h"

#include <openssl/crypto.h>

#include <new>

namespace herald::auth {
namespace {

struct Job {
    uv_work_t req;
    Request request;
    std::function<void(Result)> done;
    Result result;
};

void wipe(std::string& s) {
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

// Thread pool side: may touch only the Job.
void work_cb(uv_work_t* req) noexcept {
    auto* job = static_cast<Job*>(req->data);
    try {
        job->result = check(job->request);
    } catch (const std::bad_alloc&) {
        job->result = Result{job->request.id, false, "out of memory", {}, false};
    }
    wipe(job->request.secret);
}

// Loop side. noexcept: an exception from `done` must not unwind into libuv (it terminates).
void after_cb(uv_work_t* req, int status) noexcept {
    std::unique_ptr<Job> job(static_cast<Job*>(req->data));
    if (status == UV_ECANCELED) {
        wipe(job->request.secret);
        job->result = Result{job->request.id, false, "check cancelled", {}, false};
    }
    job->done(std::move(job->result));
}

}  // namespace

Result check(const Request& r) {
    Result res;
    res.id = r.id;
    switch (r.kind) {
        case Request::Kind::StoredHash:
            res.ok = verify_password(r.secret, r.stored_hash);
            if (res.ok) res.rehash = needs_rehash(r.stored_hash);
            else res.reason = "bad user name or password";
            break;
        case Request::Kind::PasswordFile:
            res.ok = r.password_file && r.password_file->check(r.username, r.secret);
            if (!res.ok) res.reason = "bad user name or password";
            break;
        case Request::Kind::Token: {
            if (!r.jwt) {
                res.reason = "JWT tokens are not configured";
                break;
            }
            JwtResult j = r.jwt->verify(r.secret, r.username, r.now_unix);
            res.ok = j.ok;
            res.reason = std::move(j.error);
            break;
        }
        case Request::Kind::MakeHash:
            res.hash = hash_password(r.secret, r.iterations);
            res.ok = !res.hash.empty();
            if (!res.ok) res.reason = "cannot hash the password";
            break;
    }
    return res;
}

int check_async(uv_loop_t* loop, Request request, std::function<void(Result)> done) {
    auto job = std::make_unique<Job>();
    job->req.data = job.get();
    job->request = std::move(request);
    job->done = std::move(done);
    int rc = uv_queue_work(loop, &job->req, work_cb, after_cb);
    if (rc != 0) {
        wipe(job->request.secret);
        return rc;
    }
    job.release();  // freed in after_cb
    return 0;
}

}  // namespace herald::auth
