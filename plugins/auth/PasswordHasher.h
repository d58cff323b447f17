// Argon2id password hashing (libsodium crypto_pwhash_str) with bounded concurrency: at most
// `parallel` hashes run at once, later callers wait in line, so memory stays at
// parallel x memory however many logins arrive together. Shared by all request threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace switchboard::auth {

class PasswordHasher {
public:
    /// Throws std::runtime_error if libsodium cannot be initialised.
    PasswordHasher(std::uint64_t memoryBytes, std::uint64_t passes, std::size_t parallel);

    /// An encoded "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string. Blocks while queued and
    /// while hashing. Throws std::runtime_error when memory cannot be allocated.
    std::string hash(const std::string& password);
    /// True if `password` matches `encoded` (constant-time comparison inside libsodium).
    /// Blocks like hash().
    bool verify(const std::string& encoded, const std::string& password);
    /// Costs what verify() of a wrong password costs, against a hash made at construction:
    /// used for unknown logins so they take as long as known ones.
    void verifyDummy(const std::string& password);
    /// True if `encoded` was made with other parameters than the current ones.
    bool needsRehash(const std::string& encoded) const;
    /// True if `text` looks like an encoded Argon2 hash (for auth.credentials).
    static bool isEncodedHash(const std::string& text);

    std::uint64_t memoryBytes() const { return _memory; }
    std::uint64_t passes() const { return _passes; }
    std::size_t parallel() const { return _parallel; }
    /// Callers waiting for a slot now.
    std::size_t waiting() const { return _waiting.load(std::memory_order_relaxed); }

private:
    /// Holds one of the `parallel` slots for its lifetime.
    class Slot {
    public:
        explicit Slot(PasswordHasher& owner);
        ~Slot();

    private:
        PasswordHasher& _owner;
    };

    const std::uint64_t _memory;
    const std::uint64_t _passes;
    const std::size_t _parallel;
    std::mutex _mutex;
    std::condition_variable _free;
    std::size_t _busy = 0;
    std::atomic<std::size_t> _waiting{0};
    std::string _dummy;
};

}  // namespace switchboard::auth
