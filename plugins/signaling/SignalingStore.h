// The signaling tables: organizations, their members and the virtual IP addresses allocated to
// members. Every change is durable before the call returns. Portable SQL ($n, BIGINT, DOUBLE
// PRECISION, TEXT) so SQLite and PostgreSQL run the same statements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Subnet.h"
#include "switchboard/Store.h"

namespace switchboard::signaling {

struct Organization {
    std::int64_t id = 0;
    std::string name;
    Subnet subnet;
    std::int64_t ownerId = 0;
    double createdAt = 0;
};

struct Member {
    std::int64_t userId = 0;
    double joinedAt = 0;
    std::optional<std::uint32_t> address;
};

/// A membership of one user as registration needs it: the organization and the user's
/// address in it, if any. Ordered by join time.
struct Membership {
    Organization organization;
    std::optional<std::uint32_t> address;
};

struct Allocation {
    std::int64_t userId = 0;
    std::uint32_t address = 0;
    double allocatedAt = 0;
};

class SignalingStore {
public:
    /// Runs the migrations.
    explicit SignalingStore(Store& store);

    /// Creates an organization owned by `ownerId`, who joins it, unless the owner already
    /// created `maxPerOwner` (then nullopt).
    std::optional<Organization> create(const std::string& name, const Subnet& subnet,
                                       std::int64_t ownerId, std::size_t maxPerOwner);
    std::optional<Organization> find(std::int64_t id);
    /// The organizations `userId` is a member of, by join time.
    std::vector<Organization> organizationsOf(std::int64_t userId);
    /// The organizations whose name matches `likeName` (a LIKE pattern on the lower-case name,
    /// '\\' escaping) by id, at most `limit` from `offset`, and the total of matches.
    std::vector<Organization> list(const std::string& likeName, std::size_t limit,
                                   std::size_t offset, std::int64_t& total);
    bool isMember(std::int64_t orgId, std::int64_t userId);
    /// Adds the member; false if it already was one.
    bool join(std::int64_t orgId, std::int64_t userId);
    /// Removes the member and releases its address; false if it was not one.
    bool leave(std::int64_t orgId, std::int64_t userId);
    /// Removes every membership and address of the user (the account is gone).
    void forgetUser(std::int64_t userId);
    /// Deletes the organization with its members and addresses; false if unknown.
    bool remove(std::int64_t orgId);
    std::vector<Member> members(std::int64_t orgId);
    std::int64_t memberCount(std::int64_t orgId);

    /// The member's address, allocating the lowest free host address of the organization's
    /// subnet if it has none. nullopt when every host address is taken. `created` tells
    /// whether this call allocated it. An address another node took meanwhile (the unique
    /// constraint refuses it) makes it look again, up to 16 times.
    std::optional<std::uint32_t> allocate(const Organization& org, std::int64_t userId,
                                          bool& created);
    std::vector<Allocation> allocations(std::int64_t orgId);
    /// The membership a registration uses: in `organizationId` when it is set, else the first
    /// joined organization in which the user has an address (else the first joined one, without
    /// an address). nullopt when the user is a member of none (of that one). One indexed
    /// lookup, whatever the number of memberships.
    std::optional<Membership> membershipFor(std::int64_t userId, std::int64_t organizationId);

private:
    /// One attempt of allocate(); `candidate` is the address it tried to take.
    std::optional<std::uint32_t> allocateOnce(const Organization& org, std::int64_t userId,
                                              bool& created, std::int64_t& candidate);
    static Organization organization(const SqlRow& row, std::size_t first = 0);
    Store& _store;
};

}  // namespace switchboard::signaling
