// Who can be written to: every account's login (username, or email for accounts without one),
// kept in memory so that resolving a MSG's receiver and answering LIS never touch the store on
// an event loop. Loaded from Accounts at start, kept current from the bus (user.created,
// user.deleted, from every node) and from what the chat itself changes, reloaded when the bus
// comes back (events may have been lost); a miss falls back to Accounts::find.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::messaging {

class Directory {
public:
    /// Longest `names` of a chunk: a LIS frame keeps 64 bytes for {"users":[...],"more":...}.
    static constexpr std::size_t kMaxChunk = 65535 - 64;

    /// `maxChunk` is kMaxChunk in the plugin; the fuzz target makes it small, so that lists of
    /// short logins cross chunk boundaries without building 64 KiB strings.
    explicit Directory(std::size_t maxChunk = kMaxChunk) : _maxChunk(maxChunk) {}

    struct Entry {
        std::int64_t id = 0;
        std::string login;  ///< as the account spells it
    };

    /// Adds or updates an account (`username` "" for email-only accounts).
    void put(std::int64_t id, const std::string& username, const std::string& email);
    void remove(std::int64_t id);
    /// The account whose username or email is `login` (ASCII case ignored).
    std::optional<Entry> find(const std::string& login) const;
    std::optional<Entry> findById(std::int64_t id) const;
    std::size_t size() const;
    /// Every account id, ascending.
    std::vector<std::int64_t> ids() const;

    /// Every login in account order, cut into pieces that fit one LIS frame with its envelope:
    /// `names` is the inside of a JSON array ("a","b",...). Cached until the directory changes.
    struct ListChunk {
        std::size_t first = 0;  ///< index of the chunk's first login in the whole list
        std::size_t count = 0;
        std::string names;
    };
    using ListChunks = std::shared_ptr<const std::vector<ListChunk>>;
    ListChunks listChunks();
    std::size_t maxChunk() const { return _maxChunk; }

    static std::string fold(const std::string& text);

private:
    struct Account {
        std::string username;
        std::string email;
        const std::string& login() const { return username.empty() ? email : username; }
    };
    void unindexLocked(std::int64_t id);

    const std::size_t _maxChunk;
    mutable std::mutex _mutex;
    std::map<std::int64_t, Account> _accounts;              ///< by id: LIS order
    std::unordered_map<std::string, std::int64_t> _byName;  ///< folded username and email
    ListChunks _lis;                                        ///< cached; reset on every change
};

}  // namespace switchboard::messaging
