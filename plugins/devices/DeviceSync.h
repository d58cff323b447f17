// Keeps this node's DeviceRegistry in step with a store that other nodes share (docs/decisions.md,
// "Many nodes"): the store is the truth, decided by conditional updates; other nodes' device
// events and bus.reconnected make this node re-read what changed. Also the offline sweep, since
// which node announces a device offline is decided in the store. Owned by DevicesPlugin.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "DeviceRegistry.h"
#include "DevicesStore.h"
#include "switchboard/HostContext.h"

namespace switchboard::devices {

class DeviceSync {
public:
    /// Shared when the store can be (PostgreSQL): other nodes may change it too. An SQLite file
    /// is this node's alone, and memory then holds the whole truth.
    DeviceSync(DeviceRegistry& registry, DevicesStore& store, HostContext& context);

    bool shared() const { return _shared; }
    /// The device `key`: from memory, or (shared) one enrolled through another node, read from
    /// the store and kept. nullptr if there is none, or if the store fails (logged).
    std::shared_ptr<Device> find(const std::string& key);
    /// Re-reads `device` (its mutex held) from the store. Throws StoreError.
    void refresh(Device& device);
    /// refresh() when shared; a failing store is logged and memory kept (for reads).
    void refreshForRead(Device& device);
    /// Subscribes to other nodes' device events and to bus.reconnected.
    void subscribe();
    /// Takes offline, and announces, the devices last heard from before `cutoff` on every node:
    /// this node's candidates are checked against the store, and only the node whose
    /// conditional update takes one offline publishes device.offline. Returns how many it did.
    std::size_t expire(double cutoff);

private:
    /// The device of an event another node published, re-read from the store.
    void onRemote(const std::string& payload);
    /// Every stored device, again (events may have been lost while the bus was away).
    void reloadAll();

    DeviceRegistry& _registry;
    DevicesStore& _store;
    HostContext& _context;
    const bool _shared;
};

}  // namespace switchboard::devices
