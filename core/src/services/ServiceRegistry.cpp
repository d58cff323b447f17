// Service registry (see ServiceRegistry.h).
#include "services/ServiceRegistry.h"

namespace switchboard {

void ServiceRegistry::provideAny(const std::string& name, std::shared_ptr<void> service,
                                 const std::string& typeName) {
    std::lock_guard<std::mutex> lock(_mutex);
    _services[name] = {std::move(service), typeName};
}

std::shared_ptr<void> ServiceRegistry::findAny(const std::string& name,
                                               const std::string& typeName) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _services.find(name);
    // Type names are compared as strings: libstdc++ does the same across shared objects.
    if (it == _services.end() || it->second.second != typeName) {
        return nullptr;
    }
    return it->second.first;
}

void ServiceRegistry::withdraw(const std::string& name) {
    std::lock_guard<std::mutex> lock(_mutex);
    _services.erase(name);
}

}  // namespace switchboard
