// SPDX-License-Identifier: MIT
// Where settings come from and in which order. Precedence, lowest first:
//   defaults < config file (-c) < CPPGUNICORN_<NAME> < CPPGUNICORN_CMD_ARGS < command line
// as gunicorn's load_config does (command line > environment > file > defaults).
#pragma once

#include <array>
#include <string>
#include <variant>
#include <vector>

#include "config/cli.hpp"
#include "config/settings.hpp"
#include "shared/process.hpp"

namespace cppg::config {

using Environment = std::vector<std::pair<std::string, std::string>>;

struct Config {
    enum class Action { Run, Help, Version, PrintConfig, CheckConfig, Probe };
    Action action = Action::Run;
    Settings settings;
    std::array<Source, kSettingCount> sources;
    std::string app_path;          // the positional APP.so, else the `app` setting
    std::string positional_app;    // the positional APP, kept for reloads
    std::string python_app;        // a Python app (MODULE:CALLABLE), served by the WSGI bridge at app_path
    std::string virtual_env;       // $VIRTUAL_ENV, the default of the virtualenv setting
    std::vector<std::string> app_args;  // app_args: the command line's after "--", else the env's, else the file's
    // The layers above the file, kept so that a reload re-reads only the file.
    std::vector<Assignment> env_layer;
    std::vector<Assignment> cli_layer;

    // True when the setting was set anywhere (file, environment, command line).
    bool given(std::string_view name) const;
};

struct ConfigError {
    std::string message;
    bool check_config = false;  // --check-config was asked for: exit 1 instead of 2
};

std::variant<Config, ConfigError> load_config(const std::vector<std::string>& args,
                                              const Environment& env);

// Reads the config file again (SIGHUP) on top of the same environment and command line.
// On error the caller keeps `running` in force.
std::variant<Config, ConfigError> reload_config(const Config& running);

// What the server applies to its own process (--chdir, --umask when given, -e), and whom
// workers run as (--user, --group).
shared::ProcessSettings process_settings(const Config& config);
shared::Identity worker_identity(const Settings& settings);

// --name, or the Python app (MODULE:CALLABLE), or the app's file name without directory and
// extension: what process titles and /status call the service.
std::string process_name(const Config& config);

// The process environment, as load_config wants it.
Environment process_environment();

// YAML-formatted effective values with their sources, for --print-config.
std::string render_effective_config(const Config& config);

}  // namespace cppg::config
