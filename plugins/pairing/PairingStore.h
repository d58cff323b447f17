// The pairing plugin's tables: registrations are written through before the reply (durable),
// heartbeats go through the store's write-behind batcher.
#pragma once

#include <memory>
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
    /// Marks servers offline (one transaction) and drops their queued heartbeats. A row
    /// re-registered since (another registered_at) is left alone.
    void markOffline(const std::vector<ServerInfo>& servers);

private:
    Store& _store;
    std::shared_ptr<WriteBehind> _heartbeats;
};

}  // namespace switchboard::pairing
