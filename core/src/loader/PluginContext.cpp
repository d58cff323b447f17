// Plugin contexts (see PluginContext.h).
#include "loader/PluginContext.h"

#include <Poco/Logger.h>

namespace switchboard {

void PluginBus::publish(const std::string& topic, std::string payloadJson) {
    _bus.publish(topic, std::move(payloadJson));
}

std::uint64_t PluginBus::subscribe(const std::string& pattern, Handler handler) {
    std::uint64_t id = _bus.subscribeAs(_owner, pattern, std::move(handler));
    std::lock_guard<std::mutex> lock(_mutex);
    _ids.insert(id);
    return id;
}

void PluginBus::unsubscribe(std::uint64_t id) {
    _bus.unsubscribe(id);
    std::lock_guard<std::mutex> lock(_mutex);
    _ids.erase(id);
}

void PluginBus::unsubscribeAll() {
    std::lock_guard<std::mutex> lock(_mutex);
    for (std::uint64_t id : _ids) {
        _bus.unsubscribe(id);
    }
    _ids.clear();
}

PluginContext::PluginContext(std::string name, HostServices& host)
    : _name(std::move(name)),
      _host(host),
      _logger(Poco::Logger::get("switchboard." + _name)),
      _bus(*host.bus, _name),
      _lua(*host.lua, _name),
      _metrics(*host.metrics, _name) {}

Store& PluginContext::store() {
    return *_host.store;
}

std::uint64_t PluginContext::every(std::chrono::milliseconds interval, std::function<void()> task) {
    return _host.timers->every(_name, interval, std::move(task));
}

void PluginContext::cancelTimer(std::uint64_t id) {
    _host.timers->cancel(id);
}

bool PluginContext::work(std::function<void()> task) {
    return _host.work->submit(_name, std::move(task));
}

void PluginContext::release() {
    _host.timers->cancelOwner(_name);
    _bus.unsubscribeAll();
    _host.work->waitFor(_name);
    _host.metrics->removeGauges(_name);
}

}  // namespace switchboard
