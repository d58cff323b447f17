// Typed, read-only access to a validated config mapping by dotted key (see switchboard/Config.h).
// The values live in ConfigSection::Node (ConfigNode.h), built by ConfigDocument.
#include "switchboard/Config.h"

#include "config/ConfigNode.h"

namespace switchboard {

namespace {

using Node = ConfigSection::Node;
using Entry = Node::Entry;

/// `rest` names `name` itself ("tls") or something inside it ("tls.cert" -> after = "cert").
bool matches(const std::string& rest, const std::string& name, std::string& after) {
    if (rest == name) {
        after.clear();
        return true;
    }
    if (rest.size() > name.size() && rest.compare(0, name.size(), name) == 0 &&
        rest[name.size()] == '.') {
        after = rest.substr(name.size() + 1);
        return true;
    }
    return false;
}

/// The entry at dotted `key` below `node`, descending through sections and section-map
/// entries ("listeners.public.port"); nullptr if there is none.
const Entry* lookup(const Node& node, const std::string& key) {
    std::string after;
    for (const Entry& entry : node.entries) {
        if (!matches(key, entry.name, after)) {
            continue;
        }
        if (after.empty()) {
            return &entry;
        }
        if (entry.type == ConfigType::Section) {
            return lookup(*entry.section, after);
        }
        if (entry.type != ConfigType::SectionMap) {
            return nullptr;
        }
        std::string inner;
        for (const Entry& child : entry.children) {
            if (matches(after, child.name, inner)) {
                return inner.empty() ? &child : lookup(*child.section, inner);
            }
        }
        return nullptr;
    }
    return nullptr;
}

const Entry& get(const Node& node, const std::string& key, ConfigType type, ConfigType alsoType) {
    const Entry* entry = lookup(node, key);
    if (entry == nullptr || (entry->type != type && entry->type != alsoType)) {
        throw ConfigError(Node::join(node.path, key) + ": not declared as " + Node::typeName(type));
    }
    return *entry;
}

const Entry& get(const Node& node, const std::string& key, ConfigType type) {
    return get(node, key, type, type);
}

}  // namespace

ConfigSection::ConfigSection() : _node(std::make_shared<Node>()) {}

ConfigSection::ConfigSection(std::shared_ptr<const Node> node)
    : _node(node ? std::move(node) : std::make_shared<Node>()) {}

std::string ConfigSection::getString(const std::string& key) const {
    return get(*_node, key, ConfigType::String, ConfigType::Choice).text;
}

std::int64_t ConfigSection::getInt(const std::string& key) const {
    return get(*_node, key, ConfigType::Integer).integer;
}

double ConfigSection::getNumber(const std::string& key) const {
    return get(*_node, key, ConfigType::Number).number;
}

bool ConfigSection::getBool(const std::string& key) const {
    return get(*_node, key, ConfigType::Boolean).boolean;
}

std::chrono::milliseconds ConfigSection::getDuration(const std::string& key) const {
    return std::chrono::milliseconds(get(*_node, key, ConfigType::Duration).integer);
}

std::uint64_t ConfigSection::getSize(const std::string& key) const {
    return get(*_node, key, ConfigType::Size).size;
}

std::vector<std::string> ConfigSection::getStringList(const std::string& key) const {
    return get(*_node, key, ConfigType::StringList).list;
}

std::vector<std::pair<std::string, std::string>> ConfigSection::getStringMap(
    const std::string& key) const {
    return get(*_node, key, ConfigType::StringMap).map;
}

ConfigSection ConfigSection::section(const std::string& key) const {
    return ConfigSection(get(*_node, key, ConfigType::Section).section);
}

std::vector<std::string> ConfigSection::sectionNames(const std::string& key) const {
    std::vector<std::string> names;
    for (const Entry& child : get(*_node, key, ConfigType::SectionMap).children) {
        names.push_back(child.name);
    }
    return names;
}

bool ConfigSection::isSet(const std::string& key) const {
    const Entry* entry = lookup(*_node, key);
    if (entry == nullptr) {
        throw ConfigError(Node::join(_node->path, key) + ": not declared");
    }
    return entry->set;
}

std::string ConfigSection::path() const {
    return _node->path;
}

std::string ConfigSection::location(const std::string& key) const {
    int line = _node->line;
    if (!key.empty()) {
        const Entry* entry = lookup(*_node, key);
        line = entry != nullptr ? entry->line : 0;
    }
    return line > 0 ? _node->fileName + ":" + std::to_string(line) : _node->fileName;
}

ConfigError ConfigSection::error(const std::string& key, const std::string& message) const {
    std::string path = key.empty() ? _node->path : Node::join(_node->path, key);
    return ConfigError(location(key) + ": " + (path.empty() ? "" : path + ": ") + message);
}

std::string ConfigSection::fingerprint() const {
    std::string out;
    for (const Entry& entry : _node->entries) {
        out += (out.empty() ? "" : ",") + entry.name + "=" + entry.canonical();
    }
    return "{" + out + "}";
}

}  // namespace switchboard
