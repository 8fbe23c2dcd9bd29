// Password files in mosquitto_passwd format: $7$ (PBKDF2-SHA512), $6$ (SHA512), plain, errors.
// The $7$ lines were written by mosquitto_passwd 2.0.11; the $6$ line as mosquitto 1.x does
// (SHA512(password || salt), salt "0123456789ab").
#include <doctest/doctest.h>

#include <string>

#include "broker/auth/password_file.h"

using herald::auth::PasswordFile;

namespace {

const char* kFile =
    "# users\n"
    "alice:$7$101$jW8LuzlKNSSiCZCI$LE7ZxW6B6cWmJ6XhhICb17zoyIHx2ZFpg3mNT/ky4//"
    "8QoXaDBMm/Z6zH42Stoz/IWlW91r8SJif3IuRtdHxlg==\n"
    "bob:$7$101$X3Ji1MhTY4qwpmAP$dOiAVKNr7CuL8ib2vfp/vS2NVh2TEve6VAPVjygYEc28DZlFvjJQq3bHFNucT9W4"
    "uoHYGY65qz80lWksbVQzeA==\r\n"
    "\n"
    "carol:plainpw\n"
    "dave:$6$MDEyMzQ1Njc4OWFi$zWQbCv1gm3dUXbXPCrNZypn5TU0zCNhEKBSKyUjTb7kZhyz6H0EqvTjNtup0brwt1s0Xc"
    "a1YJYIbAikqFsDiZw==";  // no final newline

}  // namespace

TEST_CASE("password file: mosquitto $7$ PBKDF2-SHA512 hashes") {
    PasswordFile f;
    std::string error;
    REQUIRE(f.load(kFile, error));
    CHECK(f.size() == 4);
    CHECK(f.check("alice", "secret1"));
    CHECK_FALSE(f.check("alice", "secret2"));
    CHECK_FALSE(f.check("alice", ""));
    CHECK(f.check("bob", "p@ss:word"));  // ':' in a password, CRLF line end
    CHECK_FALSE(f.check("bob", "p@ss"));
}

TEST_CASE("password file: mosquitto 1.x $6$ SHA512 and plain entries") {
    PasswordFile f;
    std::string error;
    REQUIRE(f.load(kFile, error));
    CHECK(f.check("dave", "davepw"));
    CHECK_FALSE(f.check("dave", "davepw "));
    CHECK(f.check("carol", "plainpw"));
    CHECK_FALSE(f.check("carol", "plainp"));
    CHECK_FALSE(f.check("carol", std::string("plainpw\0", 8)));
}

TEST_CASE("password file: unknown users and odd bytes never match") {
    PasswordFile f;
    std::string error;
    REQUIRE(f.load(kFile, error));
    CHECK_FALSE(f.contains("zed"));
    CHECK(f.contains("alice"));
    CHECK_FALSE(f.check("zed", "x"));
    CHECK_FALSE(f.check(std::string("alice\0", 6), "secret1"));
    CHECK_FALSE(f.check("", ""));
}

TEST_CASE("password file: errors name the line and keep the old content") {
    PasswordFile f;
    std::string error;
    REQUIRE(f.load("carol:plainpw\n", error));
    CHECK_FALSE(f.load("ok:pw\nnocolon\n", error));
    CHECK(error.find("line 2") != std::string::npos);
    CHECK_FALSE(f.load("x:$7$abc$c2FsdA==$aGFzaA==\n", error));  // bad iteration count
    CHECK_FALSE(f.load("x:$7$101$!!!!$aGFzaA==\n", error));      // bad base64
    CHECK_FALSE(f.load("x:$5$salt$hash\n", error));              // unknown scheme
    CHECK(f.size() == 1);
    CHECK(f.check("carol", "plainpw"));
    CHECK_FALSE(f.load_file("/nonexistent/passwd", error));
}
