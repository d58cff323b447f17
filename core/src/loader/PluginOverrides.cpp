// Runtime plugin overrides file (see PluginOverrides.h).
#include "loader/PluginOverrides.h"

#include <Poco/File.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace switchboard {

PluginOverrideMap PluginOverrides::read(const std::string& file, std::vector<std::string>& errors) {
    PluginOverrideMap out;
    if (!Poco::File(file).exists()) {
        return out;
    }
    YAML::Node root;
    try {
        root = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
        errors.push_back(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
        return out;
    }
    if (root.IsNull()) {
        return out;
    }
    if (!root.IsMap()) {
        errors.push_back(file + ":1: expected a mapping of plugin names to enabled or disabled");
        return out;
    }
    for (const auto& entry : root) {
        int line = entry.first.Mark().line + 1;
        std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
        std::string value = entry.second.IsScalar() ? entry.second.Scalar() : "";
        if (name.empty()) {
            errors.push_back(file + ":" + std::to_string(line) + ": expected a plugin name");
        } else if (value == "enabled" || value == "disabled") {
            out[name] = value == "enabled";
        } else {
            errors.push_back(file + ":" + std::to_string(line) + ": " + name +
                             ": expected enabled or disabled");
        }
    }
    return out;
}

void PluginOverrides::write(const std::string& file, const PluginOverrideMap& overrides) {
    if (overrides.empty()) {
        if (std::remove(file.c_str()) != 0 && Poco::File(file).exists()) {
            throw std::runtime_error("cannot remove " + file);
        }
        return;
    }
    std::string temporary = file + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << "# Runtime plugin overrides, written by switchboard (POST\n"
               "# /admin/api/plugins/<name>/enable or /disable, `switchboard ctl plugins ...`).\n"
               "# They apply on top of the config file at every start and reload. Back to the\n"
               "# config file: DELETE /admin/api/plugins/<name>/override, or delete this file.\n";
        for (const auto& [name, enabled] : overrides) {
            out << name << ": " << (enabled ? "enabled" : "disabled") << "\n";
        }
        out.flush();
        if (!out) {
            throw std::runtime_error("cannot write " + temporary);
        }
    }
    if (std::rename(temporary.c_str(), file.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw std::runtime_error("cannot replace " + file);
    }
}

}  // namespace switchboard
