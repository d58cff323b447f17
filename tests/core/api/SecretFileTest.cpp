// Unit tests of secret files: private whatever the umask, never overwritten, content kept byte
// for byte, and one winner when creators race.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <Poco/File.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "TestSupport.h"
#include "switchboard/SecretFile.h"

using namespace switchboard;
using switchboard::test::readFile;
using switchboard::test::TempDir;

namespace {

mode_t modeOf(const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 07777;
}

/// The names in `dir`, to see that no temporary file was left behind.
std::vector<std::string> namesIn(const TempDir& dir) {
    std::vector<std::string> names;
    Poco::File(dir.path()).list(names);
    return names;
}

/// Sets the process umask for one scope.
class Umask {
public:
    explicit Umask(mode_t mask) : _previous(::umask(mask)) {}
    ~Umask() { ::umask(_previous); }

private:
    mode_t _previous;
};

}  // namespace

TEST(SecretFileTest, ModeIs0600WhateverTheUmask) {
    for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
        TempDir dir;
        std::string path = dir.file("sub/dir/secret");
        {
            Umask scoped(mask);
            ASSERT_TRUE(SecretFile::create(path, "s3cret\n"));
        }
        EXPECT_EQ(modeOf(path), 0600u) << "umask " << mask;
        EXPECT_EQ(modeOf(dir.file("sub/dir")), 0700u) << "umask " << mask;
        EXPECT_EQ(modeOf(dir.file("sub")), 0700u) << "umask " << mask;
        EXPECT_EQ(readFile(path), "s3cret\n");
    }
}

TEST(SecretFileTest, AnExistingFileIsNeverOverwritten) {
    TempDir dir;
    std::string path = dir.write("secret", "old");
    ::chmod(path.c_str(), 0644);
    EXPECT_FALSE(SecretFile::create(path, "new"));
    EXPECT_EQ(readFile(path), "old");
    EXPECT_EQ(modeOf(path), 0644u) << "not touched at all";

    bool created = true;
    bool called = false;
    std::string content = SecretFile::readOrCreate(
        path,
        [&] {
            called = true;
            return std::string("new");
        },
        created);
    EXPECT_EQ(content, "old");
    EXPECT_FALSE(created);
    EXPECT_FALSE(called);

    // An empty file is a file too: it is returned, not replaced.
    std::string empty = dir.write("empty", "");
    EXPECT_EQ(SecretFile::readOrCreate(
                  empty, [] { return std::string("new"); }, created),
              "");
    EXPECT_FALSE(created);
}

TEST(SecretFileTest, ContentRoundTrips) {
    TempDir dir;
    std::string content;
    for (int i = 0; i < 20000; ++i) {
        content += static_cast<char>(i % 256);  // NUL bytes and more than one read buffer
    }
    std::string path = dir.file("key");
    EXPECT_EQ(SecretFile::read(path), std::nullopt);
    bool created = false;
    EXPECT_EQ(SecretFile::readOrCreate(
                  path, [&] { return content; }, created),
              content);
    EXPECT_TRUE(created);
    EXPECT_EQ(SecretFile::read(path), content);
    EXPECT_EQ(readFile(path), content);
    EXPECT_EQ(SecretFile::readOrCreate(
                  path, [] { return std::string("other"); }, created),
              content);
    EXPECT_FALSE(created);
    EXPECT_EQ(namesIn(dir), std::vector<std::string>{"key"});
}

TEST(SecretFileTest, RacingCreatorsAllGetTheWinnersContent) {
    TempDir dir;
    std::string path = dir.file("token");
    std::atomic<int> creators{0};
    std::vector<std::string> results(16);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < results.size(); ++i) {
        threads.emplace_back([&, i] {
            bool created = false;
            results[i] = SecretFile::readOrCreate(
                path, [i] { return "content of " + std::to_string(i) + "\n"; }, created);
            if (created) {
                ++creators;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(creators.load(), 1);
    EXPECT_EQ(std::set<std::string>(results.begin(), results.end()).size(), 1u);
    EXPECT_EQ(results[0], readFile(path));
    EXPECT_EQ(namesIn(dir), std::vector<std::string>{"token"});
}

TEST(SecretFileTest, FailuresNameTheFile) {
    TempDir dir;
    std::string notAFile = dir.file("directory");
    Poco::File(notAFile).createDirectories();
    try {
        SecretFile::read(notAFile);
        ADD_FAILURE() << "reading a directory succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot read " + notAFile + ": Is a directory");
    }
    std::string blocked = dir.write("plain", "x") + "/secret";  // parent is a regular file
    EXPECT_THROW(SecretFile::create(blocked, "s"), std::runtime_error);
}
