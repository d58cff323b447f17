// The service registry: how plugins use each other without including each other. A plugin
// provides an interface (declared in core/include/switchboard/) under a name; others find it.
#pragma once

#include <memory>
#include <string>
#include <typeinfo>

namespace switchboard {

/// The host's registry of named services. Thread-safe. A consumer looks a service up when it
/// needs it (or in start(), after its dependencies started) and must expect nullptr once the
/// provider stopped.
class Services {
public:
    virtual ~Services() = default;

    /// Registers `service` under `name`, replacing what was there. The provider withdraws it
    /// in its stop().
    template <class T>
    void provide(const std::string& name, std::shared_ptr<T> service) {
        provideAny(name, std::static_pointer_cast<void>(service), typeid(T).name());
    }
    /// The service, or nullptr if none is registered under `name` with type T.
    template <class T>
    std::shared_ptr<T> find(const std::string& name) const {
        return std::static_pointer_cast<T>(findAny(name, typeid(T).name()));
    }

    /// provide() without the type: `typeName` is typeid(T).name() of the interface.
    virtual void provideAny(const std::string& name, std::shared_ptr<void> service,
                            const std::string& typeName) = 0;
    /// find() without the type: nullptr unless `name` was provided with the same `typeName`.
    virtual std::shared_ptr<void> findAny(const std::string& name,
                                          const std::string& typeName) const = 0;
    /// Removes the service `name`; holders of its shared_ptr keep their copy.
    virtual void withdraw(const std::string& name) = 0;
};

}  // namespace switchboard
