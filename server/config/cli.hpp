// The command line, parsed from the settings table:
//   cppgunicorn [OPTIONS] APP.so [-- APP_ARGS...]
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "config/settings.hpp"

namespace cppg::config {

struct CommandLine {
    enum class Action { Run, Help, Version };
    Action action = Action::Run;
    Settings settings = default_settings();
    std::string app_path;
    std::vector<std::string> app_args;
};

// Returns the parsed command line or an error message (the caller exits with status 2).
std::variant<CommandLine, std::string> parse_command_line(int argc, const char* const* argv);

// --help text, grouped like gunicorn's, generated from the table.
std::string render_help();

// The closest known flag to `flag`, for "did you mean" hints; empty when nothing is close.
std::string suggest_flag(std::string_view flag);

}  // namespace cppg::config
