// The pairing plugin's tables: registrations are written through before the reply (durable),
// heartbeats go through the store's write-behind batcher.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "ServerRegistry.h"
#include "switchboard/Store.h"

namespace switchboard::pairing {

class PairingStore {
public:
    /// Applies the plugin's migrations.
    explicit PairingStore(Store& store);

    std::vector<ServerInfo> loadAll();
    /// Inserts or replaces a registration; durable when it returns. Throws StoreError.
    void save(const ServerInfo& server);
    /// Queues a heartbeat time (flushed within store.flush_interval).
    void heartbeat(const std::string& sshPubkey, double when);
    /// Marks servers offline (one transaction) and drops their queued heartbeats; returns
    /// those this call took offline. A row re-registered since (another registered_at), or
    /// whose stored heartbeat is at or after `cutoff` (another node sharing the store heard
    /// from it), is left alone: only one node announces a server offline.
    std::vector<ServerInfo> markOffline(const std::vector<ServerInfo>& servers, double cutoff);
    /// One registration as stored (another node's, on a shared store).
    std::optional<ServerInfo> byKey(const std::string& sshPubkey);
    /// The server online under `code` whose heartbeat is at or after `cutoff`.
    std::optional<ServerInfo> byCode(int code, double cutoff);
    /// True if a server other than `sshPubkey` holds `code` in the store.
    bool codeTaken(int code, const std::string& sshPubkey);

private:
    Store& _store;
    std::shared_ptr<WriteBehind> _heartbeats;
};

}  // namespace switchboard::pairing
