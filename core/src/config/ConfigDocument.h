// A parsed YAML config file: checks any of its mappings against a ConfigSchema, expanding
// ${VAR} in values, and reports every problem with file, line and dotted key path.
#pragma once

#include "config/ConfigNode.h"

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

namespace switchboard {

/// One loaded config file. Owned by whoever loads the config (the host, a test); the sections
/// it returns stay valid after it is gone.
class ConfigDocument {
public:
    /// Parses a YAML file. Throws ConfigError "<file>:<line>: <yaml problem>" on syntax errors,
    /// "<file>: cannot read: <reason>" if unreadable.
    /// `displayName` (default: `path`) names the file in messages.
    static ConfigDocument loadFile(const std::string& path, const std::string& displayName = "");
    /// Parses YAML text; `fileName` is used in messages. Throws like loadFile.
    static ConfigDocument loadString(const std::string& text, const std::string& fileName);

    /// Validates the mapping at dotted `path` ("" = document root; absent = empty mapping)
    /// against `schema`, appending EVERY problem found to `errors` (full messages). Returns the
    /// section with defaults applied (best effort even when there are errors).
    ConfigSection validate(const std::string& path, const ConfigSchema& schema,
                           std::vector<std::string>& errors) const;
    /// Keys of the mapping at `path`, in file order (empty if absent or not a mapping).
    std::vector<std::string> keys(const std::string& path) const;
    /// "<file>:<line>" of the node at `path` (or of the closest existing parent).
    std::string location(const std::string& path) const;
    const std::string& fileName() const { return _fileName; }

private:
    using Node = ConfigSection::Node;
    /// A node reached by a dotted path: the node (invalid if absent) and the line of its key,
    /// or of the closest existing parent.
    struct Found {
        YAML::Node node;
        int line = 1;
        bool exists = false;
    };

    /// One key of a mapping, with the line it is written on.
    struct Item {
        std::string name;
        int line = 0;
        YAML::Node value;
    };

    ConfigDocument(YAML::Node root, std::string fileName);
    Found find(const std::string& path) const;
    /// The entries of `map` (none if it is null), reporting non-text and duplicate keys.
    std::vector<Item> items(const YAML::Node& map, const std::string& path,
                            std::vector<std::string>& errors) const;
    std::shared_ptr<const Node> validateMapping(const YAML::Node& map, const ConfigSchema& schema,
                                                const std::string& path, int line, bool present,
                                                std::vector<std::string>& errors) const;
    /// The value of `field` written as `value` on `keyLine`; its default if it is invalid.
    Node::Entry convert(const ConfigField& field, const YAML::Node& value, const std::string& path,
                        int keyLine, std::vector<std::string>& errors) const;
    /// Fills a StringList, StringMap, Section or SectionMap entry from `value` (null = empty);
    /// false if `value` has the wrong shape.
    bool fillCollection(const ConfigField& field, const YAML::Node& value, const std::string& path,
                        Node::Entry& entry, std::vector<std::string>& errors) const;
    /// The value of `field` when it is not written (sections get their own defaults).
    Node::Entry defaultEntry(const ConfigField& field, const std::string& path, int line,
                             std::vector<std::string>& errors) const;
    /// ${VAR} expansion of a scalar into `out`; false (errors reported) if a VAR is unset.
    bool expand(const YAML::Node& scalar, const std::string& path, int line, std::string& out,
                std::vector<std::string>& errors) const;
    /// "<file>:<line>: <path>: <problem>".
    std::string message(int line, const std::string& path, const std::string& problem) const;

    YAML::Node _root;
    std::string _fileName;
};

}  // namespace switchboard
