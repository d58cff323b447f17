// The storage behind ConfigSection: validated values with the lines they were written on, and
// the text parsers shared by ConfigSchema (its defaults) and ConfigDocument (YAML values).
#pragma once

#include "switchboard/Config.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// One validated mapping. Built by ConfigDocument, read through ConfigSection; never changed
/// once shared.
struct ConfigSection::Node {
    /// One declared key and its value (the default when the file does not set it).
    struct Entry {
        std::string name;
        ConfigType type = ConfigType::String;
        bool set = false;          ///< written in the file
        int line = 0;              ///< 1-based line of the key; 0 when defaulted
        std::string text;          ///< String and Choice; flow-style YAML for Any
        std::int64_t integer = 0;  ///< Integer; milliseconds for Duration
        std::uint64_t size = 0;    ///< Size in bytes
        double number = 0;
        bool boolean = false;
        std::vector<std::string> list;                         ///< StringList
        std::vector<std::pair<std::string, std::string>> map;  ///< StringMap, file order
        std::shared_ptr<const Node> section;                   ///< Section
        std::vector<Entry> children;  ///< SectionMap: one Section entry per name, file order

        /// Canonical text of the value, for fingerprints.
        std::string canonical() const;
    };

    std::string fileName;
    std::string path;            ///< dotted path from the document root
    int line = 0;                ///< 1-based line where the mapping was written; 0 if defaulted
    std::vector<Entry> entries;  ///< one per declared field, in schema order

    /// The entry named `name` (not dotted), or nullptr.
    const Entry* find(const std::string& name) const;

    /// Parses scalar `text` as a value of `field`'s type into `entry`. Returns "" on success,
    /// else the problem ("expected an integer", "must be between 1 and 10", "must be at least
    /// 1ms").
    static std::string parseScalar(const ConfigField& field, const std::string& text, Entry& entry);
    /// The inclusive bounds of `field` as written in YAML, "" for an open side (Integer: min and
    /// max unless INT64_MIN/INT64_MAX; Number, Duration, Size: minText and maxText).
    static std::pair<std::string, std::string> bounds(const ConfigField& field);
    /// The "expected ..." message for a value of the wrong type or shape.
    static std::string expectation(const ConfigField& field);
    /// Short name of a type as used in messages and docs ("duration", "string list").
    static std::string typeName(ConfigType type);
    /// Shortest text that reads back as `value`.
    static std::string formatNumber(double value);
    /// `prefix.name`, or `name` alone when prefix is empty.
    static std::string join(const std::string& prefix, const std::string& name);
};

}  // namespace switchboard
