// SPDX-License-Identifier: MIT
#include "config/yaml_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace cppg::config {

namespace {

std::string position(const std::string& path, const YAML::Mark& mark) {
    return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// The file is read here rather than by yaml-cpp so that an unreadable file gets errno's
// explanation instead of yaml-cpp's "bad file".
std::variant<std::string, std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::variant<std::string, std::string>(
        std::in_place_index<1>, "setting 'config': cannot read config file '" + path + "' (" +
                                    std::strerror(errno) + ")");
    std::ostringstream text;
    text << in.rdbuf();
    return std::variant<std::string, std::string>(std::in_place_index<0>, text.str());
}

std::optional<std::string> take_value(const std::string& path, size_t index,
                                      const YAML::Node& value, std::vector<Assignment>& out) {
    const SettingSpec& spec = kSettingSpecs[index];
    std::string where = "config file " + position(path, value.Mark());
    if (value.IsScalar()) {
        out.push_back({index, value.Scalar(), Source{where}});
        return std::nullopt;
    }
    if (value.IsSequence() && is_list(spec.type)) {
        for (const auto& item : value) {
            if (!item.IsScalar())
                return "setting '" + std::string(spec.name) + "': list items must be plain values (" + where + ")";
            out.push_back({index, item.Scalar(), Source{"config file " + position(path, item.Mark())}});
        }
        return std::nullopt;
    }
    std::string got = value.IsNull() ? "no value" : value.IsSequence() ? "a list" : "a mapping";
    return "setting '" + std::string(spec.name) + "': " + got + " given (" + where +
           "); allowed: " + describe_allowed(spec);
}

}  // namespace

std::variant<std::vector<Assignment>, std::string> read_yaml_settings(const std::string& path) {
    auto text = read_text(path);
    if (text.index() == 1) return std::get<1>(text);
    return parse_yaml_settings(std::get<0>(text), path);
}

std::variant<std::vector<Assignment>, std::string> parse_yaml_settings(const std::string& text,
                                                                       const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {  // ParserException, and the rarer ones (depth, ...)
        return "config file " + position(path, e.mark) + ": invalid YAML: " + e.msg;
    }
    std::vector<Assignment> out;
    if (root.IsNull()) return out;  // an empty file sets nothing
    if (!root.IsMap())
        return "config file " + position(path, root.Mark()) +
               ": expected a mapping of setting names to values";
    for (const auto& entry : root) {
        std::string key = entry.first.Scalar();
        auto index = find_setting(key);
        if (!index) {
            std::string hint = suggest_setting(key);
            return "config file " + position(path, entry.first.Mark()) + ": unknown setting '" +
                   key + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?");
        }
        if (key == "config")
            return "config file " + position(path, entry.first.Mark()) +
                   ": setting 'config' names the file itself and cannot be set inside it";
        if (auto err = take_value(path, *index, entry.second, out)) return *err;
    }
    return out;
}

}  // namespace cppg::config
