// Declaring config fields and rendering a schema as reference documentation (see
// switchboard/Config.h). A schema that contradicts itself is a programming error.
#include "switchboard/Config.h"

#include "config/ConfigNode.h"

namespace switchboard {

namespace {

using Node = ConfigSection::Node;

/// Checks a default against the field's own parser, before the field is added.
void checkDefault(const std::string& name, ConfigType type, const std::string& def,
                  std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX,
                  const std::vector<std::string>& choices = {}) {
    ConfigField field;
    field.type = type;
    field.min = min;
    field.max = max;
    field.choices = choices;
    Node::Entry entry;
    std::string problem = Node::parseScalar(field, def, entry);
    if (!problem.empty()) {
        throw std::logic_error("config schema: default \"" + def + "\" of " + name + ": " +
                               problem);
    }
}

std::string escapeCell(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c == '|' ? std::string("\\|") : std::string(1, c == '\n' ? ' ' : c);
    }
    return out;
}

/// "integer 1..65535", "size 8KiB..4GiB", "duration at least 1ms", "number at most 1".
std::string typeCell(const ConfigField& field) {
    std::string type = Node::typeName(field.type);
    if (field.type == ConfigType::Choice) {
        return Node::expectation(field).substr(std::string("expected ").size());
    }
    auto [min, max] = Node::bounds(field);
    if (!min.empty() && !max.empty()) {
        type += " " + min + ".." + max;
    } else if (!min.empty()) {
        type += " at least " + min;
    } else if (!max.empty()) {
        type += " at most " + max;
    }
    return type;
}

std::string defaultCell(const ConfigField& field) {
    if (!field.hasDefault) {
        return "required";
    }
    switch (field.type) {
        case ConfigType::StringList:
        case ConfigType::StringMap:
        case ConfigType::Section:
        case ConfigType::SectionMap:
        case ConfigType::Any:
            return "";
        case ConfigType::String:
            if (field.defaultText.empty()) {
                return "`\"\"`";
            }
            [[fallthrough]];
        default:
            return "`" + escapeCell(field.defaultText) + "`";
    }
}

void appendRows(const ConfigSchema& schema, const std::string& prefix, std::string& out) {
    for (const ConfigField& field : schema.fields()) {
        std::string key = Node::join(prefix, field.name);
        out += "| `" + key + "` | " + typeCell(field) + " | " + defaultCell(field) + " | " +
               escapeCell(field.description) + " |\n";
        if (field.type == ConfigType::Section) {
            appendRows(*field.section, key, out);
        } else if (field.type == ConfigType::SectionMap) {
            appendRows(*field.section, key + ".<name>", out);
        }
    }
}

}  // namespace

ConfigField& ConfigSchema::add(const std::string& name, ConfigType type, const std::string& desc) {
    if (name.empty() || name.find('.') != std::string::npos) {
        throw std::logic_error("config schema: invalid field name \"" + name + "\"");
    }
    if (find(name) != nullptr) {
        throw std::logic_error("config schema: field " + name + " declared twice");
    }
    ConfigField& field = _fields.emplace_back();
    field.name = name;
    field.type = type;
    field.description = desc;
    field.hasDefault = true;
    return field;
}

ConfigSchema& ConfigSchema::string(const std::string& name, const std::string& def,
                                   const std::string& desc) {
    add(name, ConfigType::String, desc).defaultText = def;
    return *this;
}

ConfigSchema& ConfigSchema::integer(const std::string& name, std::int64_t def, std::int64_t min,
                                    std::int64_t max, const std::string& desc) {
    if (min > max) {
        throw std::logic_error("config schema: " + name + ": min is above max");
    }
    checkDefault(name, ConfigType::Integer, std::to_string(def), min, max);
    ConfigField& field = add(name, ConfigType::Integer, desc);
    field.defaultText = std::to_string(def);
    field.min = min;
    field.max = max;
    return *this;
}

ConfigSchema& ConfigSchema::number(const std::string& name, double def, const std::string& desc) {
    checkDefault(name, ConfigType::Number, Node::formatNumber(def));
    add(name, ConfigType::Number, desc).defaultText = Node::formatNumber(def);
    return *this;
}

ConfigSchema& ConfigSchema::boolean(const std::string& name, bool def, const std::string& desc) {
    add(name, ConfigType::Boolean, desc).defaultText = def ? "true" : "false";
    return *this;
}

ConfigSchema& ConfigSchema::duration(const std::string& name, const std::string& def,
                                     const std::string& desc) {
    checkDefault(name, ConfigType::Duration, def);
    add(name, ConfigType::Duration, desc).defaultText = def;
    return *this;
}

ConfigSchema& ConfigSchema::size(const std::string& name, const std::string& def,
                                 const std::string& desc) {
    checkDefault(name, ConfigType::Size, def);
    add(name, ConfigType::Size, desc).defaultText = def;
    return *this;
}

ConfigSchema& ConfigSchema::choice(const std::string& name, const std::string& def,
                                   const std::vector<std::string>& choices,
                                   const std::string& desc) {
    checkDefault(name, ConfigType::Choice, def, INT64_MIN, INT64_MAX, choices);
    ConfigField& field = add(name, ConfigType::Choice, desc);
    field.defaultText = def;
    field.choices = choices;
    return *this;
}

ConfigSchema& ConfigSchema::stringList(const std::string& name, const std::string& desc) {
    add(name, ConfigType::StringList, desc);
    return *this;
}

ConfigSchema& ConfigSchema::stringMap(const std::string& name, const std::string& desc) {
    add(name, ConfigType::StringMap, desc);
    return *this;
}

ConfigSchema& ConfigSchema::any(const std::string& name, const std::string& desc) {
    add(name, ConfigType::Any, desc);
    return *this;
}

ConfigSchema& ConfigSchema::required() {
    if (_fields.empty()) {
        throw std::logic_error("config schema: required() before any field");
    }
    _fields.back().hasDefault = false;
    _fields.back().defaultText.clear();
    return *this;
}

ConfigSchema& ConfigSchema::atLeast(const std::string& min) {
    return bound(min, "", "atLeast");
}

ConfigSchema& ConfigSchema::atMost(const std::string& max) {
    return bound("", max, "atMost");
}

ConfigSchema& ConfigSchema::between(const std::string& min, const std::string& max) {
    return bound(min, max, "between");
}

ConfigSchema& ConfigSchema::bound(const std::string& min, const std::string& max,
                                  const char* method) {
    if (_fields.empty()) {
        throw std::logic_error(std::string("config schema: ") + method + "() before any field");
    }
    ConfigField field = _fields.back();  // replaces the declared one once every check passed
    std::string where = "config schema: " + field.name + ": ";
    if (field.type != ConfigType::Number && field.type != ConfigType::Duration &&
        field.type != ConfigType::Size) {
        throw std::logic_error(where + method + "() needs a number, duration or size field (" +
                               Node::typeName(field.type) + " bounds are given when declared)");
    }
    ConfigField open = field;
    open.minText.clear();
    open.maxText.clear();
    for (const std::string* text : {&min, &max}) {
        Node::Entry entry;
        if (!text->empty() && !Node::parseScalar(open, *text, entry).empty()) {
            throw std::logic_error(where + "bound \"" + *text + "\": " + Node::expectation(field));
        }
    }
    field.minText = min.empty() ? field.minText : min;
    field.maxText = max.empty() ? field.maxText : max;
    Node::Entry entry;
    if (!field.minText.empty() && !Node::parseScalar(field, field.minText, entry).empty()) {
        throw std::logic_error(where + "minimum " + field.minText + " is above maximum " +
                               field.maxText);
    }
    if (field.hasDefault) {
        std::string problem = Node::parseScalar(field, field.defaultText, entry);
        if (!problem.empty()) {
            throw std::logic_error("config schema: default \"" + field.defaultText + "\" of " +
                                   field.name + ": " + problem);
        }
    }
    _fields.back() = std::move(field);
    return *this;
}

ConfigSchema& ConfigSchema::section(const std::string& name, const std::string& desc) {
    ConfigField& field = add(name, ConfigType::Section, desc);
    field.section = std::make_shared<ConfigSchema>();
    return *field.section;
}

ConfigSchema& ConfigSchema::sectionMap(const std::string& name, const std::string& desc) {
    ConfigField& field = add(name, ConfigType::SectionMap, desc);
    field.section = std::make_shared<ConfigSchema>();
    return *field.section;
}

const ConfigField* ConfigSchema::find(const std::string& name) const {
    for (const ConfigField& field : _fields) {
        if (field.name == name) {
            return &field;
        }
    }
    return nullptr;
}

std::string ConfigSchema::markdown(const std::string& prefix) const {
    std::string out;
    appendRows(*this, prefix, out);
    return out;
}

}  // namespace switchboard
