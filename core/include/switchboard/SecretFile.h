// Files that hold secrets (the admin token, the JWT secret, private keys): private from their
// first byte, never overwritten, and complete whenever they can be seen. POSIX only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// Creating and reading secret files under the data directory. Thread- and process-safe: of
/// two creators of one file exactly one succeeds, and the other sees the winner's content.
class SecretFile {
public:
    /// Creates `path` holding `content`, mode 0600 whatever the umask, unless it exists. The
    /// content goes to a new file next to it (O_CREAT|O_EXCL|O_CLOEXEC, mode 0600, fchmod 0600),
    /// is written in full and fsync'd, and is then hard-linked to `path`, so `path` appears
    /// complete or not at all. Missing parent directories are created with mode 0700. Returns
    /// false, changing nothing, when `path` already exists. Throws std::runtime_error naming
    /// the file for any other failure.
    static bool create(const std::string& path, std::string_view content);

    /// The whole content of `path`, or nullopt when it does not exist. Throws
    /// std::runtime_error naming the file when it exists but cannot be read.
    static std::optional<std::string> read(const std::string& path);

    /// The content of `path`; when it does not exist, creates it (see create) with the content
    /// `make` returns and sets `created`. If another thread or process creates it first, its
    /// content is read and returned instead. Throws std::runtime_error naming the file.
    static std::string readOrCreate(const std::string& path,
                                    const std::function<std::string()>& make, bool& created);
};

}  // namespace switchboard
