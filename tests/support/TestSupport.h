// Helpers shared by the tests: temporary directories, free ports, and a handle on a real
// switchboard process started from a temporary YAML config.
#pragma once

#include <string>

namespace switchboard::test {

/// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }
    /// path() + "/" + name
    std::string file(const std::string& name) const;
    /// Writes `content` to file(name) and returns that path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string _path;
};

/// Reads a whole file ("" if it does not exist).
std::string readFile(const std::string& path);

}  // namespace switchboard::test
