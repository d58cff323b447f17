// The service registry: how plugins use each other without including each other. A plugin
// provides an interface (declared in core/include/switchboard/) under a name; others find it.
#pragma once

#include <memory>
#include <string>
#include <typeinfo>

namespace switchboard {

class Services {
public:
    virtual ~Services() = default;

    template <class T>
    void provide(const std::string& name, std::shared_ptr<T> service) {
        provideAny(name, std::static_pointer_cast<void>(service), typeid(T).name());
    }
    /// The service, or nullptr if none is registered under `name` with type T.
    template <class T>
    std::shared_ptr<T> find(const std::string& name) const {
        return std::static_pointer_cast<T>(findAny(name, typeid(T).name()));
    }

    virtual void provideAny(const std::string& name, std::shared_ptr<void> service,
                            const std::string& typeName) = 0;
    virtual std::shared_ptr<void> findAny(const std::string& name,
                                          const std::string& typeName) const = 0;
    virtual void withdraw(const std::string& name) = 0;
};

}  // namespace switchboard
