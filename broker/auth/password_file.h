// Password file in mosquitto_passwd format: "user:hash" per line.
//
// Accepted hashes: "$7$iterations$salt_b64$hash_b64" (mosquitto 2, PBKDF2-HMAC-SHA512),
// "$6$salt_b64$hash_b64" (mosquitto 1.x, SHA512(password + salt)), and a plain password
// (anything not starting with '$'), for quick tests. Comparisons are constant-time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace herald::auth {

class PasswordFile {
public:
    // Parses the text of a password file. Blank lines and '#' comments are skipped. On error
    // returns false, sets `error` to "line N: <what>", and leaves the object unchanged.
    bool load(std::string_view text, std::string& error);

    // Reads and parses `path` (same contract as load()).
    bool load_file(const std::string& path, std::string& error);

    bool contains(std::string_view user) const;

    // True iff `user` is listed and `password` matches its hash.
    bool check(std::string_view user, std::string_view password) const;

    size_t size() const { return users_.size(); }

    struct Entry {
        enum class Kind : uint8_t { Plain, Sha512, Pbkdf2Sha512 };
        Kind kind = Kind::Plain;
        int iterations = 0;
        std::string salt;  // decoded bytes
        std::string hash;  // decoded bytes (or the plain password)
    };

private:
    std::unordered_map<std::string, Entry> users_;
};

}  // namespace herald::auth
