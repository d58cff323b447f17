// Signaling tables and queries (see SignalingStore.h).
#include "SignalingStore.h"

#include "switchboard/Clock.h"

namespace switchboard::signaling {

namespace {

constexpr const char* kOrgColumns = "o.id, o.name, o.network, o.prefix, o.owner_id, o.created_at";

/// Adds one to the counter `name` and returns the new value.
std::int64_t next(StoreTx& tx, const std::string& name) {
    tx.execute("UPDATE signaling_counters SET value = value + 1 WHERE name = $1", {name});
    return tx.query("SELECT value FROM signaling_counters WHERE name = $1", {name}).at(0).getInt(0);
}

void addMember(StoreTx& tx, std::int64_t orgId, std::int64_t userId, double joinedAt) {
    tx.execute(
        "INSERT INTO signaling_members (org_id, user_id, joined_at, seq) VALUES ($1, $2, $3, $4)",
        {orgId, userId, joinedAt, next(tx, "member_seq")});
}

}  // namespace

SignalingStore::SignalingStore(Store& store) : _store(store) {
    _store.migrate(
        "signaling",
        {{1,
          {"CREATE TABLE signaling_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
           "INSERT INTO signaling_counters (name, value) VALUES ('organization_id', 0)",
           "CREATE TABLE signaling_organizations ("
           " id BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " network BIGINT NOT NULL,"
           " prefix BIGINT NOT NULL,"
           " owner_id BIGINT NOT NULL,"
           " created_at DOUBLE PRECISION NOT NULL)",
           "CREATE INDEX signaling_organizations_owner ON signaling_organizations (owner_id)",
           "CREATE TABLE signaling_members ("
           " org_id BIGINT NOT NULL,"
           " user_id BIGINT NOT NULL,"
           " joined_at DOUBLE PRECISION NOT NULL,"
           " seq BIGINT NOT NULL,"
           " PRIMARY KEY (org_id, user_id))",
           "CREATE INDEX signaling_members_user ON signaling_members (user_id, seq)",
           "INSERT INTO signaling_counters (name, value) VALUES ('member_seq', 0)",
           // One address per member, one member per address: the constraints, not a lock,
           // keep two nodes from handing out one address twice.
           "CREATE TABLE signaling_addresses ("
           " org_id BIGINT NOT NULL,"
           " user_id BIGINT NOT NULL,"
           " address BIGINT NOT NULL,"
           " allocated_at DOUBLE PRECISION NOT NULL,"
           " PRIMARY KEY (org_id, user_id),"
           " UNIQUE (org_id, address))"}},
         // Presence with several nodes (PresenceStore): one row per agent, the node holding
         // its connection, online until it goes.
         {2,
          {"CREATE TABLE signaling_peers ("
           " org_id BIGINT NOT NULL,"
           " peer_id TEXT NOT NULL,"
           " connection_id TEXT NOT NULL,"
           " node_id TEXT NOT NULL,"
           " user_id BIGINT NOT NULL,"
           " registered_at DOUBLE PRECISION NOT NULL,"
           " online BIGINT NOT NULL,"
           " peer TEXT NOT NULL,"
           " updated_at DOUBLE PRECISION NOT NULL,"
           " PRIMARY KEY (org_id, peer_id))",
           "CREATE INDEX signaling_peers_online ON signaling_peers (online, updated_at)"}}});
}

Organization SignalingStore::organization(const SqlRow& row, std::size_t first) {
    Organization o;
    o.id = row.getInt(first);
    o.name = row.getString(first + 1);
    o.subnet.network = static_cast<std::uint32_t>(row.getInt(first + 2));
    o.subnet.prefix = static_cast<int>(row.getInt(first + 3));
    o.ownerId = row.getInt(first + 4);
    o.createdAt = row.getDouble(first + 5);
    return o;
}

std::optional<Organization> SignalingStore::create(const std::string& name, const Subnet& subnet,
                                                   std::int64_t ownerId, std::size_t maxPerOwner) {
    std::optional<Organization> created;
    _store.transaction([&](StoreTx& tx) {
        auto owned =
            tx.query("SELECT COUNT(*) FROM signaling_organizations WHERE owner_id = $1", {ownerId});
        if (static_cast<std::size_t>(owned.at(0).getInt(0)) >= maxPerOwner) {
            return;
        }
        Organization o;
        o.id = next(tx, "organization_id");
        o.name = name;
        o.subnet = subnet;
        o.ownerId = ownerId;
        o.createdAt = epochSeconds();
        tx.execute(
            "INSERT INTO signaling_organizations (id, name, network, prefix, owner_id, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            {o.id, o.name, static_cast<std::int64_t>(subnet.network),
             static_cast<std::int64_t>(subnet.prefix), ownerId, o.createdAt});
        addMember(tx, o.id, ownerId, o.createdAt);
        created = o;
    });
    return created;
}

std::optional<Organization> SignalingStore::find(std::int64_t id) {
    auto rows = _store.query(
        std::string("SELECT ") + kOrgColumns + " FROM signaling_organizations o WHERE o.id = $1",
        {id});
    if (rows.empty()) {
        return std::nullopt;
    }
    return organization(rows[0]);
}

std::vector<Organization> SignalingStore::organizationsOf(std::int64_t userId) {
    auto rows = _store.query(std::string("SELECT ") + kOrgColumns +
                                 " FROM signaling_members m JOIN signaling_organizations o"
                                 " ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.seq",
                             {userId});
    std::vector<Organization> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        out.push_back(organization(row));
    }
    return out;
}

std::vector<Organization> SignalingStore::list(const std::string& likeName, std::size_t limit,
                                               std::size_t offset, std::int64_t& total) {
    const char* where = " WHERE LOWER(o.name) LIKE $1 ESCAPE '\\'";
    total = _store
                .query(std::string("SELECT COUNT(*) FROM signaling_organizations o") + where,
                       {likeName})
                .at(0)
                .getInt(0);
    auto rows = _store.query(
        std::string("SELECT ") + kOrgColumns + " FROM signaling_organizations o" + where +
            " ORDER BY o.id LIMIT $2 OFFSET $3",
        {likeName, static_cast<std::int64_t>(limit), static_cast<std::int64_t>(offset)});
    std::vector<Organization> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        out.push_back(organization(row));
    }
    return out;
}

bool SignalingStore::isMember(std::int64_t orgId, std::int64_t userId) {
    return !_store
                .query("SELECT 1 FROM signaling_members WHERE org_id = $1 AND user_id = $2",
                       {orgId, userId})
                .empty();
}

bool SignalingStore::join(std::int64_t orgId, std::int64_t userId) {
    bool joined = false;
    _store.transaction([&](StoreTx& tx) {
        if (!tx.query("SELECT 1 FROM signaling_members WHERE org_id = $1 AND user_id = $2",
                      {orgId, userId})
                 .empty()) {
            return;
        }
        addMember(tx, orgId, userId, epochSeconds());
        joined = true;
    });
    return joined;
}

bool SignalingStore::leave(std::int64_t orgId, std::int64_t userId) {
    bool left = false;
    _store.transaction([&](StoreTx& tx) {
        tx.execute("DELETE FROM signaling_addresses WHERE org_id = $1 AND user_id = $2",
                   {orgId, userId});
        left = tx.execute("DELETE FROM signaling_members WHERE org_id = $1 AND user_id = $2",
                          {orgId, userId}) > 0;
    });
    return left;
}

void SignalingStore::forgetUser(std::int64_t userId) {
    _store.transaction([&](StoreTx& tx) {
        tx.execute("DELETE FROM signaling_addresses WHERE user_id = $1", {userId});
        tx.execute("DELETE FROM signaling_members WHERE user_id = $1", {userId});
    });
}

bool SignalingStore::remove(std::int64_t orgId) {
    bool removed = false;
    _store.transaction([&](StoreTx& tx) {
        tx.execute("DELETE FROM signaling_addresses WHERE org_id = $1", {orgId});
        tx.execute("DELETE FROM signaling_members WHERE org_id = $1", {orgId});
        removed = tx.execute("DELETE FROM signaling_organizations WHERE id = $1", {orgId}) > 0;
    });
    return removed;
}

std::vector<Member> SignalingStore::members(std::int64_t orgId) {
    auto rows = _store.query(
        "SELECT m.user_id, m.joined_at, a.address FROM signaling_members m"
        " LEFT JOIN signaling_addresses a ON a.org_id = m.org_id AND a.user_id = m.user_id"
        " WHERE m.org_id = $1 ORDER BY m.seq",
        {orgId});
    std::vector<Member> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        Member m;
        m.userId = row.getInt(0);
        m.joinedAt = row.getDouble(1);
        if (!row.isNull(2)) {
            m.address = static_cast<std::uint32_t>(row.getInt(2));
        }
        out.push_back(m);
    }
    return out;
}

std::int64_t SignalingStore::memberCount(std::int64_t orgId) {
    return _store.query("SELECT COUNT(*) FROM signaling_members WHERE org_id = $1", {orgId})
        .at(0)
        .getInt(0);
}

std::optional<std::uint32_t> SignalingStore::allocate(const Organization& org, std::int64_t userId,
                                                      bool& created) {
    // Two nodes (or two transactions) may pick one free address at once: the UNIQUE
    // (org_id, address) constraint refuses the second, which then looks again.
    constexpr int kAttempts = 16;
    for (int attempt = 1;; ++attempt) {
        std::int64_t candidate = 0;
        try {
            return allocateOnce(org, userId, created, candidate);
        } catch (const std::exception&) {
            bool raced = false;
            try {
                raced = attempt < kAttempts &&
                        !_store
                             .query(
                                 "SELECT 1 FROM signaling_addresses WHERE org_id = $1"
                                 " AND (address = $2 OR user_id = $3)",
                                 {org.id, candidate, userId})
                             .empty();
            } catch (const std::exception&) {
            }
            if (!raced) {
                throw;
            }
        }
    }
}

std::optional<std::uint32_t> SignalingStore::allocateOnce(const Organization& org,
                                                          std::int64_t userId, bool& created,
                                                          std::int64_t& candidate) {
    created = false;
    std::optional<std::uint32_t> result;
    const std::int64_t first = org.subnet.firstHost();
    const std::int64_t last = org.subnet.lastHost();
    _store.transaction([&](StoreTx& tx) {
        auto mine =
            tx.query("SELECT address FROM signaling_addresses WHERE org_id = $1 AND user_id = $2",
                     {org.id, userId});
        if (!mine.empty()) {
            result = static_cast<std::uint32_t>(mine[0].getInt(0));
            return;
        }
        // The lowest free host: the first one, or the first address right after a taken one
        // whose successor is free (an index walk over the organization's addresses).
        candidate = first;
        if (!tx.query("SELECT 1 FROM signaling_addresses WHERE org_id = $1 AND address = $2",
                      {org.id, first})
                 .empty()) {
            auto gap = tx.query(
                "SELECT MIN(a.address) + 1 FROM signaling_addresses a WHERE a.org_id = $1"
                " AND NOT EXISTS (SELECT 1 FROM signaling_addresses b"
                " WHERE b.org_id = $1 AND b.address = a.address + 1)",
                {org.id});
            candidate = gap.empty() || gap[0].isNull(0) ? last + 1 : gap[0].getInt(0);
        }
        if (candidate > last) {
            return;  // exhausted
        }
        tx.execute(
            "INSERT INTO signaling_addresses (org_id, user_id, address, allocated_at)"
            " VALUES ($1, $2, $3, $4)",
            {org.id, userId, candidate, epochSeconds()});
        result = static_cast<std::uint32_t>(candidate);
        created = true;
    });
    return result;
}

std::vector<Allocation> SignalingStore::allocations(std::int64_t orgId) {
    auto rows = _store.query(
        "SELECT user_id, address, allocated_at FROM signaling_addresses WHERE org_id = $1"
        " ORDER BY address",
        {orgId});
    std::vector<Allocation> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        out.push_back({row.getInt(0), static_cast<std::uint32_t>(row.getInt(1)), row.getDouble(2)});
    }
    return out;
}

std::optional<Membership> SignalingStore::membershipFor(std::int64_t userId,
                                                        std::int64_t organizationId) {
    const std::string select = std::string("SELECT ") + kOrgColumns +
                               ", a.address FROM signaling_members m"
                               " JOIN signaling_organizations o ON o.id = m.org_id"
                               " LEFT JOIN signaling_addresses a"
                               " ON a.org_id = m.org_id AND a.user_id = m.user_id";
    std::vector<SqlRow> rows;
    if (organizationId > 0) {
        rows = _store.query(select + " WHERE m.user_id = $1 AND m.org_id = $2",
                            {userId, organizationId});
    } else {
        rows = _store.query(select +
                                " WHERE m.user_id = $1 AND a.address IS NOT NULL"
                                " ORDER BY m.seq LIMIT 1",
                            {userId});
        if (rows.empty()) {
            rows = _store.query(select + " WHERE m.user_id = $1 ORDER BY m.seq LIMIT 1", {userId});
        }
    }
    if (rows.empty()) {
        return std::nullopt;
    }
    Membership m;
    m.organization = organization(rows[0]);
    if (!rows[0].isNull(6)) {
        m.address = static_cast<std::uint32_t>(rows[0].getInt(6));
    }
    return m;
}

}  // namespace switchboard::signaling
