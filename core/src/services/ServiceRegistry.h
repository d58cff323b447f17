// The host's service registry (see switchboard/Services.h): name -> (service, type name).
#pragma once

#include <map>
#include <mutex>

#include "switchboard/Services.h"

namespace switchboard {

class ServiceRegistry : public Services {
public:
    void provideAny(const std::string& name, std::shared_ptr<void> service,
                    const std::string& typeName) override;
    std::shared_ptr<void> findAny(const std::string& name,
                                  const std::string& typeName) const override;
    void withdraw(const std::string& name) override;

private:
    mutable std::mutex _mutex;
    std::map<std::string, std::pair<std::shared_ptr<void>, std::string>> _services;
};

}  // namespace switchboard
