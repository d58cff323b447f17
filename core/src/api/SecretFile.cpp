// Secret files (see switchboard/SecretFile.h): a private temporary file, written and synced,
// then linked into place, because link() never replaces an existing file.
#include "switchboard/SecretFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace switchboard {

namespace {

/// "<what> <path>: <reason>" for the errno of the call that just failed.
std::runtime_error failure(const char* what, const std::string& path) {
    int error = errno;
    return std::runtime_error(std::string(what) + " " + path + ": " + std::strerror(error));
}

std::string parentOf(const std::string& path) {
    std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// mkdir -p with mode 0700 for the directories it creates.
void makeDirectories(const std::string& dir) {
    struct stat info {};
    if (::stat(dir.c_str(), &info) == 0) {
        return;
    }
    std::string parent = parentOf(dir);
    if (parent != dir) {
        makeDirectories(parent);
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw failure("cannot create", dir);
    }
}

/// Writes all of `content` to `fd` and syncs it; throws naming `path`.
void writeAll(int fd, std::string_view content, const std::string& path) {
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw failure("cannot write", path);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        throw failure("cannot write", path);
    }
}

/// A fresh private file next to `path`: O_EXCL, so it is never one somebody else opened too.
int openTemporary(const std::string& path, std::string& temp) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
        int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            return fd;
        }
        if (errno != EEXIST) {
            throw failure("cannot create", temp);
        }
    }
    throw std::runtime_error("cannot create a temporary file next to " + path);
}

void syncDirectory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);  // best effort: the file itself is already durable
        ::close(fd);
    }
}

}  // namespace

bool SecretFile::create(const std::string& path, std::string_view content) {
    std::string dir = parentOf(path);
    makeDirectories(dir);
    std::string temp;
    int fd = openTemporary(path, temp);
    try {
        // The umask may have narrowed the mode given to open(); make it exactly 0600.
        if (::fchmod(fd, 0600) != 0) {
            throw failure("cannot set the mode of", temp);
        }
        writeAll(fd, content, temp);
        if (::close(fd) != 0) {
            fd = -1;
            throw failure("cannot write", temp);
        }
        fd = -1;
        if (::link(temp.c_str(), path.c_str()) != 0) {
            if (errno != EEXIST) {
                throw failure("cannot create", path);
            }
            ::unlink(temp.c_str());
            return false;
        }
    } catch (...) {
        if (fd >= 0) {
            ::close(fd);
        }
        ::unlink(temp.c_str());
        throw;
    }
    ::unlink(temp.c_str());
    syncDirectory(dir);
    return true;
}

std::optional<std::string> SecretFile::read(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw failure("cannot read", path);
    }
    std::string content;
    char buffer[4096];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            std::runtime_error error = failure("cannot read", path);
            ::close(fd);
            throw error;
        }
        if (n == 0) {
            break;
        }
        content.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return content;
}

std::string SecretFile::readOrCreate(const std::string& path,
                                     const std::function<std::string()>& make, bool& created) {
    created = false;
    if (std::optional<std::string> existing = read(path)) {
        return *existing;
    }
    std::string content = make();
    if (create(path, content)) {
        created = true;
        return content;
    }
    // Another creator won the race: its file is complete (it was linked into place whole).
    if (std::optional<std::string> theirs = read(path)) {
        return *theirs;
    }
    throw std::runtime_error("cannot read " + path + ": it disappeared after being created");
}

}  // namespace switchboard
