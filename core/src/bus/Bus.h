// The host's side of the event bus: what only the host calls (open by URL, stop, metrics) on top
// of the EventBus plugins see. LocalBus is the in-process bus; a Redis bus is its sibling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "switchboard/EventBus.h"

namespace switchboard {

class MetricsRegistry;

/// The bus cannot be opened; what() names bus.url and the reason.
class BusError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Bus : public EventBus {
public:
    /// The bus for `url`: "local" is the in-process bus with room for `queueSize` events,
    /// "redis://host:port" the bus shared through Redis (RedisBus). Throws BusError for
    /// anything else ("bus.url: expected local or redis://host:port, got '<url>'") and for a
    /// malformed redis URL.
    ///
    static std::unique_ptr<Bus> open(const std::string& url, std::size_t queueSize);

    /// Delivers what is queued, then stops delivering. Idempotent.
    virtual void stop() = 0;

    /// subscribe() on behalf of `owner` (a plugin's name): a handler that throws is logged on
    /// that plugin's logger, "switchboard.<owner>" ("switchboard.bus" for owner "").
    virtual std::uint64_t subscribeAs(const std::string& owner, const std::string& pattern,
                                      Handler handler) = 0;
    std::uint64_t subscribe(const std::string& pattern, Handler handler) override {
        return subscribeAs("", pattern, std::move(handler));
    }

    /// Registers the switchboard_bus_* metrics (read from stats() at scrape time). The bus must
    /// outlive the registry's scrapes.
    void registerMetrics(MetricsRegistry& metrics) const;

    /// False (and why in `reason`) while the bus cannot reach the other nodes: /readyz.
    virtual bool ready(std::string& reason) const {
        (void)reason;
        return true;
    }

protected:
    /// Metrics of a shared bus on top of switchboard_bus_*.
    virtual void registerBackendMetrics(MetricsRegistry& metrics) const { (void)metrics; }
};

}  // namespace switchboard
