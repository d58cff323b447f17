// The audit log as plugins see it: security events and admin actions (who, from where, what),
// kept by the host in its store and listed at GET /admin/api/audit.
#pragma once

#include <memory>
#include <string>

#include "switchboard/HostContext.h"

namespace switchboard {

/// The host's audit log, provided under kServiceName in the service registry while the host
/// runs (find it with `context.services().find<Audit>(Audit::kServiceName)`, or call
/// recordAudit()). Thread-safe. record() never blocks and never throws: the entry is queued and
/// written to the store off the caller's thread (beyond a bounded queue entries are dropped and
/// counted in switchboard_audit_entries_total{kind="dropped"}).
class Audit {
public:
    static constexpr const char* kServiceName = "audit";
    virtual ~Audit() = default;
    /// Records one entry, timed now. `actor`: "admin", "user:<id>", "device:<key>" or
    /// "anonymous"; `address`: the client address ("" when there is none); `action`: dotted,
    /// "<subject>.<what>" in snake_case ("device.token_created", "auth.login_limited");
    /// `detail`: a JSON object (text; anything else is stored as {}).
    virtual void record(const std::string& actor, const std::string& address,
                        const std::string& action, const std::string& detail = "{}") = 0;
};

/// Records through the host's audit log (nothing happens when there is none).
inline void recordAudit(HostContext& context, const std::string& actor, const std::string& address,
                        const std::string& action, const std::string& detail = "{}") {
    if (auto audit = context.services().find<Audit>(Audit::kServiceName)) {
        audit->record(actor, address, action, detail);
    }
}

}  // namespace switchboard
