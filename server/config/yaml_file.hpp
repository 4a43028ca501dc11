// SPDX-License-Identifier: MIT
// Reading settings from a YAML file: a mapping of setting names to values.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "config/cli.hpp"

namespace cppg::config {

// Every value with its file:line:column; or an error naming the file and the position.
std::variant<std::vector<Assignment>, std::string> read_yaml_settings(const std::string& path);

// The same for text already read; `path` names it in messages.
std::variant<std::vector<Assignment>, std::string> parse_yaml_settings(const std::string& text,
                                                                       const std::string& path);

}  // namespace cppg::config
