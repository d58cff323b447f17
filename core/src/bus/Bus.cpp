// Opening the bus by URL and its metrics (see Bus.h).
#include "bus/Bus.h"

#include "bus/LocalBus.h"
#include "bus/RedisBus.h"
#include "services/MetricsRegistry.h"

namespace switchboard {

std::unique_ptr<Bus> Bus::open(const std::string& url, std::size_t queueSize) {
    if (url == "local") {
        return std::make_unique<LocalBus>(queueSize);
    }
    if (url.rfind("redis://", 0) == 0) {
        return std::make_unique<RedisBus>(RedisUrl::parse(url), queueSize);
    }
    throw BusError("bus.url: expected local or redis://host:port, got '" + url + "'");
}

void Bus::registerMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        BusStats s = stats();
        out +=
            "# HELP switchboard_bus_events_total Event bus counters\n"
            "# TYPE switchboard_bus_events_total counter\n";
        out += "switchboard_bus_events_total{kind=\"published\"} " + std::to_string(s.published) +
               "\n";
        out += "switchboard_bus_events_total{kind=\"delivered\"} " + std::to_string(s.delivered) +
               "\n";
        out += "switchboard_bus_events_total{kind=\"dropped\"} " + std::to_string(s.dropped) + "\n";
        out += "switchboard_bus_events_total{kind=\"handler_errors\"} " +
               std::to_string(s.handlerErrors) + "\n";
        out +=
            "# HELP switchboard_bus_queued Events waiting for delivery\n"
            "# TYPE switchboard_bus_queued gauge\nswitchboard_bus_queued " +
            std::to_string(s.queued) + "\n";
    });
    registerBackendMetrics(metrics);
}

}  // namespace switchboard
