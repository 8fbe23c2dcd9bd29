// One heraldd per data directory: an exclusive lock on {data_dir}/herald.lock, held for the
// life of the process (the kernel releases it when the process ends, even by kill -9).
//
// Why: two brokers writing one SQLite file would each believe it owns every session, cursor
// and retained message, and acknowledge messages the other then erases. SQLite's own locks
// keep the file consistent, not the two brokers' views of it.
#pragma once

#include <string>

namespace herald::storage {

class DataLock {
public:
    DataLock() = default;
    ~DataLock();
    DataLock(const DataLock&) = delete;
    DataLock& operator=(const DataLock&) = delete;

    // Creates data_dir if needed and takes the lock, writing our pid into the file. False with
    // `error` ("data_dir /var/lib/herald is in use by another heraldd (pid 1234)") otherwise.
    bool acquire(const std::string& data_dir, std::string& error);

private:
    int fd_ = -1;
};

}  // namespace herald::storage
