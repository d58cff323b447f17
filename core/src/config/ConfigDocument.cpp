// Loading a YAML config file and validating its mappings against schemas (see
// ConfigDocument.h). Every problem is collected; nothing stops at the first.
#include "config/ConfigDocument.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace switchboard {

namespace {

bool isVariableName(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) {
        return false;
    }
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            return false;
        }
    }
    return true;
}

/// Expands ${VAR} and ${VAR:-default} (bash semantics); "$${" is a literal "${". Names of unset
/// variables without a default are appended to `unset`.
std::string expandText(const std::string& text, std::vector<std::string>& unset) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 3, "$${") == 0) {
            out += "${";
            i += 3;
            continue;
        }
        std::size_t close = text.find('}', i);
        if (text.compare(i, 2, "${") == 0 && close != std::string::npos) {
            std::string inner = text.substr(i + 2, close - i - 2);
            std::size_t colon = inner.find(":-");
            std::string name = inner.substr(0, colon);
            if (isVariableName(name)) {
                const char* value = std::getenv(name.c_str());
                if (colon != std::string::npos) {
                    out += value != nullptr && *value != '\0' ? value : inner.substr(colon + 2);
                } else if (value != nullptr) {
                    out += value;
                } else {
                    unset.push_back(name);
                }
                i = close + 1;
                continue;
            }
        }
        out += text[i++];
    }
    return out;
}

/// Flow-style YAML text of a node, as the canonical form of an Any value.
std::string dump(const YAML::Node& node) {
    YAML::Emitter out;
    out.SetMapFormat(YAML::Flow);
    out.SetSeqFormat(YAML::Flow);
    out << node;
    return out.c_str();
}

/// 1-based line of a value; a null value (`key:`) has no position of its own.
int valueLine(const YAML::Node& value, int keyLine) {
    return value.IsNull() || value.Mark().line < 0 ? keyLine : value.Mark().line + 1;
}

}  // namespace

ConfigDocument::ConfigDocument(YAML::Node root, std::string fileName)
    : _root(std::move(root)), _fileName(std::move(fileName)) {}

ConfigDocument ConfigDocument::loadFile(const std::string& path, const std::string& displayName) {
    const std::string& name = displayName.empty() ? path : displayName;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        throw ConfigError(name + ": cannot read: " + std::strerror(errno));
    }
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        text.append(buffer, n);
    }
    int error = std::ferror(file) ? errno : 0;
    std::fclose(file);
    if (error != 0) {
        throw ConfigError(name + ": cannot read: " + std::strerror(error));
    }
    return loadString(text, name);
}

ConfigDocument ConfigDocument::loadString(const std::string& text, const std::string& fileName) {
    try {
        return ConfigDocument(YAML::Load(text), fileName);
    } catch (const YAML::Exception& e) {
        std::string where = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1);
        throw ConfigError(fileName + where + ": " + e.msg);
    }
}

ConfigSection ConfigDocument::validate(const std::string& path, const ConfigSchema& schema,
                                       std::vector<std::string>& errors) const {
    Found found = find(path);
    if (found.exists && !found.node.IsNull() && !found.node.IsMap()) {
        errors.push_back(message(valueLine(found.node, found.line), path, "expected a mapping"));
        std::vector<std::string> ignored;
        return ConfigSection(
            validateMapping(YAML::Node(), schema, path, found.line, false, ignored));
    }
    return ConfigSection(validateMapping(found.exists ? found.node : YAML::Node(), schema, path,
                                         found.line, found.exists, errors));
}

std::vector<std::string> ConfigDocument::keys(const std::string& path) const {
    std::vector<std::string> names;
    Found found = find(path);
    if (found.exists && found.node.IsMap()) {
        for (const auto& pair : found.node) {
            if (pair.first.IsScalar()) {
                names.push_back(pair.first.Scalar());
            }
        }
    }
    return names;
}

std::string ConfigDocument::location(const std::string& path) const {
    return _fileName + ":" + std::to_string(find(path).line);
}

ConfigDocument::Found ConfigDocument::find(const std::string& path) const {
    Found found;
    found.node.reset(_root);
    found.line = _root.Mark().line >= 0 ? _root.Mark().line + 1 : 1;
    found.exists = true;
    std::size_t start = 0;
    while (!path.empty() && start <= path.size()) {
        std::size_t dot = std::min(path.find('.', start), path.size());
        std::string part = path.substr(start, dot - start);
        start = dot + 1;
        bool matched = false;
        if (found.node.IsMap()) {
            for (const auto& pair : found.node) {
                if (pair.first.IsScalar() && pair.first.Scalar() == part) {
                    // reset() rebinds; operator= would overwrite the node inside the document.
                    found.line = pair.first.Mark().line + 1;
                    found.node.reset(pair.second);
                    matched = true;
                    break;
                }
            }
        }
        if (!matched) {
            found.node.reset();
            found.exists = false;
            break;
        }
    }
    return found;
}

std::vector<ConfigDocument::Item> ConfigDocument::items(const YAML::Node& map,
                                                        const std::string& path,
                                                        std::vector<std::string>& errors) const {
    std::vector<Item> result;
    if (!map.IsMap()) {
        return result;
    }
    for (const auto& pair : map) {
        int line = pair.first.Mark().line + 1;
        if (!pair.first.IsScalar()) {
            errors.push_back(message(line, path, "keys must be plain text"));
            continue;
        }
        std::string name = pair.first.Scalar();
        bool duplicate = false;
        for (const Item& item : result) {
            duplicate = duplicate || item.name == name;
        }
        if (duplicate) {
            errors.push_back(message(line, Node::join(path, name), "duplicate key"));
            continue;
        }
        result.push_back(Item{name, line, pair.second});
    }
    return result;
}

std::shared_ptr<const ConfigSection::Node> ConfigDocument::validateMapping(
    const YAML::Node& map, const ConfigSchema& schema, const std::string& path, int line,
    bool present, std::vector<std::string>& errors) const {
    auto node = std::make_shared<Node>();
    node->fileName = _fileName;
    node->path = path;
    node->line = present ? line : 0;
    const std::vector<ConfigField>& fields = schema.fields();
    std::vector<Node::Entry> written(fields.size());
    std::vector<bool> seen(fields.size(), false);
    for (const Item& item : items(map, path, errors)) {
        std::string key = Node::join(path, item.name);
        const ConfigField* field = schema.find(item.name);
        if (field == nullptr) {
            errors.push_back(message(item.line, key, "unknown key"));
            continue;
        }
        std::size_t index = static_cast<std::size_t>(field - fields.data());
        written[index] = convert(*field, item.value, key, item.line, errors);
        seen[index] = true;
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
        std::string key = Node::join(path, fields[i].name);
        std::vector<std::string> ignored;  // a missing required section is one error, not many
        if (!seen[i] && !fields[i].hasDefault) {
            errors.push_back(message(line, key, "required key missing"));
        }
        node->entries.push_back(
            seen[i] ? std::move(written[i])
                    : defaultEntry(fields[i], key, line, fields[i].hasDefault ? errors : ignored));
    }
    return node;
}

ConfigSection::Node::Entry ConfigDocument::convert(const ConfigField& field,
                                                   const YAML::Node& value, const std::string& path,
                                                   int keyLine,
                                                   std::vector<std::string>& errors) const {
    Node::Entry entry;
    entry.name = field.name;
    entry.type = field.type;
    entry.set = true;
    entry.line = keyLine;
    int line = valueLine(value, keyLine);
    std::string problem = Node::expectation(field);
    switch (field.type) {
        case ConfigType::Any:
            entry.text = dump(value);
            return entry;
        case ConfigType::StringList:
        case ConfigType::StringMap:
        case ConfigType::Section:
        case ConfigType::SectionMap:
            if (fillCollection(field, value, path, entry, errors)) {
                return entry;
            }
            break;
        default:
            if (value.IsScalar()) {
                std::string text;
                if (!expand(value, path, line, text, errors)) {
                    problem.clear();  // already reported
                    break;
                }
                problem = Node::parseScalar(field, text, entry);
                if (problem.empty()) {
                    return entry;
                }
            }
    }
    if (!problem.empty()) {
        errors.push_back(message(line, path, problem));
    }
    std::vector<std::string> ignored;  // the value was wrong; its default needs no report
    Node::Entry fallback = defaultEntry(field, path, keyLine, ignored);
    fallback.set = true;
    fallback.line = keyLine;
    return fallback;
}

bool ConfigDocument::fillCollection(const ConfigField& field, const YAML::Node& value,
                                    const std::string& path, Node::Entry& entry,
                                    std::vector<std::string>& errors) const {
    int line = valueLine(value, entry.line);
    if (field.type == ConfigType::StringList) {
        if (value.IsNull()) {
            return true;
        }
        if (!value.IsSequence()) {
            return false;
        }
        for (const YAML::Node& item : value) {
            std::string text;
            if (!item.IsScalar()) {
                return false;
            }
            if (expand(item, path, line, text, errors)) {
                entry.list.push_back(text);
            }
        }
        return true;
    }
    if (!value.IsNull() && !value.IsMap()) {
        return false;
    }
    if (field.type == ConfigType::Section) {
        entry.section = validateMapping(value, *field.section, path, entry.line, true, errors);
        return true;
    }
    for (const Item& item : items(value, path, errors)) {
        std::string key = Node::join(path, item.name);
        int itemLine = valueLine(item.value, item.line);
        std::string text;
        if (field.type == ConfigType::StringMap) {
            if (!item.value.IsScalar()) {
                errors.push_back(message(itemLine, key, "expected a string"));
            } else if (expand(item.value, key, itemLine, text, errors)) {
                entry.map.emplace_back(item.name, text);
            }
        } else if (!item.value.IsNull() && !item.value.IsMap()) {
            errors.push_back(message(itemLine, key, "expected a mapping"));
        } else if (item.name.empty() || item.name.find('.') != std::string::npos) {
            // Sections are found by dotted path: such a name could never be read back (found by
            // fuzz/yaml_config_fuzz: "listeners.: not declared as section", with no file).
            errors.push_back(message(item.line, item.name.empty() ? path : key,
                                     "a name must be non-empty, without '.'"));
        } else {
            Node::Entry& child = entry.children.emplace_back();
            child.name = item.name;
            child.type = ConfigType::Section;
            child.set = true;
            child.line = item.line;
            child.section =
                validateMapping(item.value, *field.section, key, item.line, true, errors);
        }
    }
    return true;
}

ConfigSection::Node::Entry ConfigDocument::defaultEntry(const ConfigField& field,
                                                        const std::string& path, int line,
                                                        std::vector<std::string>& errors) const {
    Node::Entry entry;
    entry.name = field.name;
    entry.type = field.type;
    if (field.type == ConfigType::Section) {
        entry.section = validateMapping(YAML::Node(), *field.section, path, line, false, errors);
    } else if (field.hasDefault && !field.defaultText.empty()) {
        Node::parseScalar(field, field.defaultText, entry);  // checked when declared
    }
    return entry;
}

bool ConfigDocument::expand(const YAML::Node& scalar, const std::string& path, int line,
                            std::string& out, std::vector<std::string>& errors) const {
    std::vector<std::string> unset;
    out = expandText(scalar.Scalar(), unset);
    for (const std::string& name : unset) {
        errors.push_back(message(line, path, "environment variable " + name + " is not set"));
    }
    return unset.empty();
}

std::string ConfigDocument::message(int line, const std::string& path,
                                    const std::string& problem) const {
    return _fileName + ":" + std::to_string(line) + ": " + (path.empty() ? "" : path + ": ") +
           problem;
}

}  // namespace switchboard
