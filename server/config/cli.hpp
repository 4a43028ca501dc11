// SPDX-License-Identifier: MIT
// Command-line arguments, parsed from the settings table:
//   cppgunicorn [OPTIONS] APP.so [-- APP_ARGS...]
// The same parser reads CPPGUNICORN_CMD_ARGS. It only collects assignments; the loader
// applies them in precedence order.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/settings.hpp"

namespace cppg::config {

// "set setting `index` to `value`", with where that was said.
struct Assignment {
    size_t index;
    std::string value;
    Source source;
};

struct ParsedArgs {
    std::vector<Assignment> assignments;
    bool help = false;
    bool version = false;
    std::string app_path;
};

// `origin` names where the arguments came from in messages: "command line" or
// "environment CPPGUNICORN_CMD_ARGS". Positional arguments are refused unless allowed.
std::variant<ParsedArgs, std::string> parse_args(const std::vector<std::string>& args,
                                                 std::string_view origin, bool allow_positional);

// --help text, grouped like gunicorn's, generated from the table.
std::string render_help();

// The closest known flag to `flag`, for "did you mean" hints; empty when nothing is close.
std::string suggest_flag(std::string_view flag);
// The closest setting name, likewise.
std::string suggest_setting(std::string_view name);

// Splits the "flags" column ("-b --bind") into its spellings.
std::vector<std::string_view> split_flags(std::string_view flags);

}  // namespace cppg::config
