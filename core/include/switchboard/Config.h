// Config as data: a plugin (and the host) declares each field once in a ConfigSchema; the host
// validates the YAML against it and hands back a read-only ConfigSection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// One or more configuration problems, each a complete, user-facing message, e.g.
/// "etc/switchboard.yaml:14: plugins.pairing.offline_after: expected a duration like 90s".
/// what() is the messages joined by newlines; the host reports each message on its own.
class ConfigError : public std::runtime_error {
public:
    /// One problem.
    explicit ConfigError(const std::string& message);
    /// Every problem of `errors` (in order) as one exception, so that a plugin's configure()
    /// can report all its semantic checks at once. Throws std::logic_error if `errors` is empty.
    explicit ConfigError(const std::vector<ConfigError>& errors);
    ~ConfigError() override;

    /// The problems, one message each (a single-problem error holds what()).
    const std::vector<std::string>& messages() const { return *_messages; }

private:
    std::shared_ptr<const std::vector<std::string>> _messages;  ///< shared: copies never throw
};

enum class ConfigType {
    String,      ///< any scalar, taken as text (after ${VAR} expansion)
    Integer,     ///< whole number within [min, max]
    Number,      ///< floating point
    Boolean,     ///< true/false (also yes/no, on/off)
    Duration,    ///< "500ms", "90s", "5m", "24h", "7d", or combined "1h30m"
    Size,        ///< bytes: "512", "64KiB", "4MiB", "1GiB" (also KB/MB/GB as powers of 1000)
    Choice,      ///< one of a fixed list of strings
    StringList,  ///< sequence of scalars
    StringMap,   ///< mapping of scalar -> scalar (e.g. auth.credentials)
    Section,     ///< nested mapping with its own schema
    SectionMap,  ///< mapping of user-chosen names -> sections of one schema (e.g. listeners)
    Any,         ///< not validated here (validated elsewhere, e.g. the `plugins` block)
};

class ConfigSchema;

/// One declared field. Built through ConfigSchema's methods, not by hand.
struct ConfigField {
    std::string name;
    ConfigType type = ConfigType::String;
    std::string description;
    std::string defaultText;       ///< default as it would be written in YAML ("" for none)
    bool hasDefault = false;       ///< false: the key is required
    std::int64_t min = INT64_MIN;  ///< Integer bounds
    std::int64_t max = INT64_MAX;
    std::string minText;  ///< Number, Duration, Size: lower bound as written ("": none)
    std::string maxText;  ///< Number, Duration, Size: upper bound as written ("": none)
    std::vector<std::string> choices;       ///< Choice values
    std::shared_ptr<ConfigSchema> section;  ///< Section / SectionMap element schema
};

/// The declared shape of one config mapping. Field methods return *this for chaining;
/// section() and sectionMap() return the nested schema to fill.
class ConfigSchema {
public:
    ConfigSchema& string(const std::string& name, const std::string& def, const std::string& desc);
    ConfigSchema& integer(const std::string& name, std::int64_t def, std::int64_t min,
                          std::int64_t max, const std::string& desc);
    ConfigSchema& number(const std::string& name, double def, const std::string& desc);
    ConfigSchema& boolean(const std::string& name, bool def, const std::string& desc);
    ConfigSchema& duration(const std::string& name, const std::string& def,
                           const std::string& desc);
    ConfigSchema& size(const std::string& name, const std::string& def, const std::string& desc);
    ConfigSchema& choice(const std::string& name, const std::string& def,
                         const std::vector<std::string>& choices, const std::string& desc);
    ConfigSchema& stringList(const std::string& name, const std::string& desc);
    ConfigSchema& stringMap(const std::string& name, const std::string& desc);
    ConfigSchema& any(const std::string& name, const std::string& desc);
    /// Marks the field declared last as required (no default).
    ConfigSchema& required();
    /// Inclusive bounds of the Number, Duration or Size field declared last, written in that
    /// field's own syntax: `.duration("offline_after", "90s", "...").atLeast("1ms")`,
    /// `.size("memory", "19MiB", "...").between("8KiB", "4GiB")`. A value outside is reported as
    /// "must be at least 1ms", "must be at most 1h" or "must be between 8KiB and 4GiB" (integer
    /// bounds, given to integer(), read the same). Throws std::logic_error if the field has
    /// another type, a bound does not parse, the minimum is above the maximum or the default
    /// lies outside.
    ConfigSchema& atLeast(const std::string& min);
    ConfigSchema& atMost(const std::string& max);
    ConfigSchema& between(const std::string& min, const std::string& max);

    /// Declares a nested section and returns its schema.
    ConfigSchema& section(const std::string& name, const std::string& desc);
    /// Declares a map of named sections sharing one schema, and returns that schema.
    ConfigSchema& sectionMap(const std::string& name, const std::string& desc);

    const std::vector<ConfigField>& fields() const { return _fields; }
    const ConfigField* find(const std::string& name) const;

    /// The reference documentation of this schema as Markdown table rows, keys prefixed by
    /// `prefix` (e.g. "plugins.pairing").
    std::string markdown(const std::string& prefix) const;

private:
    ConfigField& add(const std::string& name, ConfigType type, const std::string& desc);
    ConfigSchema& bound(const std::string& min, const std::string& max, const char* method);
    std::vector<ConfigField> _fields;
};

/// A validated, immutable config mapping with defaults applied. Keys may be dotted paths
/// ("tls.cert"). Getters throw ConfigError if the key was not declared with that type.
class ConfigSection {
public:
    struct Node;  ///< implementation detail (core/src/config/ConfigSection.cpp)

    ConfigSection();
    explicit ConfigSection(std::shared_ptr<const Node> node);

    std::string getString(const std::string& key) const;
    std::int64_t getInt(const std::string& key) const;
    double getNumber(const std::string& key) const;
    bool getBool(const std::string& key) const;
    std::chrono::milliseconds getDuration(const std::string& key) const;
    std::uint64_t getSize(const std::string& key) const;
    std::vector<std::string> getStringList(const std::string& key) const;
    /// Entries in file order.
    std::vector<std::pair<std::string, std::string>> getStringMap(const std::string& key) const;
    ConfigSection section(const std::string& key) const;
    /// Names of the entries of a SectionMap, in file order.
    std::vector<std::string> sectionNames(const std::string& key) const;

    /// True if the key was written in the file (not just defaulted).
    bool isSet(const std::string& key) const;
    /// Dotted path of this section from the document root, e.g. "plugins.pairing".
    std::string path() const;
    /// "file:line" where the key (or this section, for "") was written; "file" if defaulted.
    std::string location(const std::string& key = "") const;
    /// Builds the message of a semantic error on `key`: "file:line: path.key: message".
    /// Several are thrown together as ConfigError(std::vector<ConfigError>{...}).
    ConfigError error(const std::string& key, const std::string& message) const;
    /// Canonical text of all values; equal fingerprints mean equal configuration.
    std::string fingerprint() const;

private:
    std::shared_ptr<const Node> _node;
};

}  // namespace switchboard
