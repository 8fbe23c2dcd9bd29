// The data directory's lock (see data_lock.h): flock(2) on herald.lock.
#include "storage/data_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace herald::storage {

DataLock::~DataLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
}

bool DataLock::acquire(const std::string& data_dir, std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    const std::string path = (std::filesystem::path(data_dir) / "herald.lock").string();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    // A read-only data_dir (or file): flock works on a read-only descriptor too, and the store
    // then says in its own words why it cannot open the database.
    if (fd < 0 && (errno == EROFS || errno == EACCES)) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return true;  // read-only and no lock file: nothing to share
    if (fd < 0) {
        error = "cannot open " + path + ": " + std::strerror(errno);
        return false;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int why = errno;
        char holder[32] = {};
        const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
        std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        ::close(fd);
        if (why == EWOULDBLOCK) {
            error = "data_dir " + data_dir + " is in use by another heraldd" +
                    (pid.empty() ? std::string() : " (pid " + pid + ")");
        } else {
            error = "cannot lock " + path + ": " + std::strerror(why);
        }
        return false;
    }
    const std::string mine = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, mine.data(), mine.size(), 0) < 0) {
        // The pid is only for the message above; the lock is what counts.
    }
    fd_ = fd;
    return true;
}

}  // namespace herald::storage
