// SPDX-License-Identifier: MIT
#include "config/loader.hpp"

#include <unistd.h>

#include "config/python_app.hpp"
#include "config/yaml_file.hpp"

extern char** environ;

namespace cppg::config {

namespace {

constexpr std::string_view kEnvPrefix = "CPPGUNICORN_";
constexpr std::string_view kCmdArgsVar = "CPPGUNICORN_CMD_ARGS";
// An activated virtualenv's, the default of --virtualenv.
constexpr std::string_view kVirtualEnvVar = "VIRTUAL_ENV";

std::string env_name(std::string_view setting) {
    std::string out(kEnvPrefix);
    for (char c : setting) out.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
    return out;
}

// Shell-like word splitting for CPPGUNICORN_CMD_ARGS and CPPGUNICORN_APP_ARGS: blanks separate
// words; single and double quotes group; a backslash escapes the next character outside
// single quotes.
std::variant<std::vector<std::string>, std::string> split_words(std::string_view text,
                                                                std::string_view var) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quote) {
            if (c == quote) quote = 0;
            else if (c == '\\' && quote == '"' && i + 1 < text.size()) word.push_back(text[++i]);
            else word.push_back(c);
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < text.size()) {
            word.push_back(text[++i]);
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) words.push_back(std::move(word)), word.clear();
            in_word = false;
        } else {
            word.push_back(c);
            in_word = true;
        }
    }
    if (quote) return "unterminated quote in environment " + std::string(var);
    if (in_word) words.push_back(std::move(word));
    return words;
}

std::variant<std::vector<Assignment>, std::string> environment_layer(const Environment& env,
                                                                     ParsedArgs& cmd_args) {
    std::vector<Assignment> layer;
    for (size_t i = 0; i < kSettingCount; ++i) {
        std::string var = env_name(kSettingSpecs[i].name);
        for (const auto& [key, value] : env) {
            if (key != var) continue;
            if (kSettingSpecs[i].type != SettingType::Args) {
                layer.push_back({i, value, Source{"environment " + var}});
                continue;
            }
            auto words = split_words(value, var);
            if (auto* err = std::get_if<std::string>(&words)) return *err;
            for (auto& w : std::get<std::vector<std::string>>(words))
                layer.push_back({i, std::move(w), Source{"environment " + var}});
        }
    }
    for (const auto& [key, value] : env) {
        if (key != kCmdArgsVar) continue;
        auto words = split_words(value, kCmdArgsVar);
        if (auto* err = std::get_if<std::string>(&words)) return *err;
        auto parsed = parse_args(std::get<std::vector<std::string>>(words),
                                 "environment " + std::string(kCmdArgsVar), false);
        if (auto* err = std::get_if<std::string>(&parsed)) return *err;
        cmd_args = std::move(std::get<ParsedArgs>(parsed));
        for (auto& a : cmd_args.assignments) layer.push_back(std::move(a));
    }
    return layer;
}

// Applies one layer. Within a layer a repeated list setting accumulates (two --bind flags);
// a higher layer's list replaces a lower one's.
std::optional<std::string> apply_layer(Config& config, const std::vector<Assignment>& layer) {
    std::array<bool, kSettingCount> seen{};
    for (const auto& a : layer) {
        bool append = seen[a.index];
        seen[a.index] = true;
        if (auto err = apply_setting(config.settings, a.index, a.value, a.source, append)) return err;
        config.sources[a.index] = a.source;
    }
    return std::nullopt;
}

const size_t kConfigIndex = *find_setting("config");

// The config file named by the highest layer that names one.
std::string config_path(const Config& c) {
    std::string path;
    for (const auto* layer : {&c.env_layer, &c.cli_layer})
        for (const auto& a : *layer)
            if (a.index == kConfigIndex) path = a.value;
    return path;
}

// A Python app is served by the WSGI bridge, which takes the app and the Python settings as
// its arguments. $VIRTUAL_ENV stands in for --virtualenv, as an activated venv would.
std::optional<std::string> resolve_python_app(Config& config) {
    if (!is_python_app(config.app_path)) return std::nullopt;
    config.python_app = config.app_path;
    size_t venv = *find_setting("virtualenv");
    if (!config.virtual_env.empty() && !config.given("virtualenv")) {
        Source source{"environment " + std::string(kVirtualEnvVar)};
        if (auto err = apply_setting(config.settings, venv, config.virtual_env, source, false)) return err;
        config.sources[venv] = source;
    }
    if (config.action == Config::Action::PrintConfig || config.action == Config::Action::Probe) return std::nullopt;
    auto bridge = find_wsgi_bridge();
    if (!bridge)
        return "'" + config.python_app + "' names a Python app, but the WSGI bridge is not installed "
               "(install the cppgunicorn-python package; a build tree has it when libpython3-dev is present)";
    config.app_path = *bridge;
    config.app_args = wsgi_bridge_args(config.python_app, config.settings);
    return std::nullopt;
}

std::variant<Config, ConfigError> build(Config config) {
    config.settings = default_settings();
    config.sources.fill(Source{"default"});
    bool check = false;
    for (const auto* layer : {&config.env_layer, &config.cli_layer})
        for (const auto& a : *layer)
            if (a.index == *find_setting("check_config")) check = a.value != "false";
    std::vector<Assignment> file_layer;
    if (std::string path = config_path(config); !path.empty()) {
        auto read = read_yaml_settings(path);
        if (auto* err = std::get_if<std::string>(&read)) return ConfigError{*err, check};
        file_layer = std::move(std::get<std::vector<Assignment>>(read));
    }
    for (const auto* layer : {&file_layer, &config.env_layer, &config.cli_layer})
        if (auto err = apply_layer(config, *layer)) return ConfigError{*err, check};
    if (config.settings.print_config) config.action = Config::Action::PrintConfig;
    else if (config.settings.check_config) config.action = Config::Action::CheckConfig;
    else if (!config.settings.probe.empty()) config.action = Config::Action::Probe;
    config.app_path = config.positional_app.empty() ? config.settings.app : config.positional_app;
    config.app_args = config.settings.app_args;
    if (auto err = resolve_python_app(config)) return ConfigError{*err, check};
    bool needs_app = config.action != Config::Action::PrintConfig && config.action != Config::Action::Probe;
    if (needs_app && config.app_path.empty())
        return ConfigError{"no app given; usage: cppgunicorn [OPTIONS] APP [-- APP_ARGS...]", check};
    return config;
}

}  // namespace

std::variant<Config, ConfigError> load_config(const std::vector<std::string>& args,
                                              const Environment& env) {
    auto cli = parse_args(args, "command line", true);
    if (auto* err = std::get_if<std::string>(&cli)) return ConfigError{*err};
    auto& parsed = std::get<ParsedArgs>(cli);
    ParsedArgs cmd_args;
    auto env_layer = environment_layer(env, cmd_args);
    if (auto* err = std::get_if<std::string>(&env_layer)) return ConfigError{*err};

    Config config;
    if (parsed.help || cmd_args.help) return config.action = Config::Action::Help, config;
    if (parsed.version || cmd_args.version) return config.action = Config::Action::Version, config;
    config.positional_app = parsed.app_path;
    for (const auto& [key, value] : env)
        if (key == kVirtualEnvVar) config.virtual_env = value;
    config.env_layer = std::move(std::get<std::vector<Assignment>>(env_layer));
    config.cli_layer = std::move(parsed.assignments);
    return build(std::move(config));
}

std::variant<Config, ConfigError> reload_config(const Config& running) {
    Config next;
    next.positional_app = running.positional_app;
    next.virtual_env = running.virtual_env;
    next.env_layer = running.env_layer;
    next.cli_layer = running.cli_layer;
    return build(std::move(next));
}

bool Config::given(std::string_view name) const {
    auto index = find_setting(name);
    return index && sources[*index].description != "default";
}

shared::ProcessSettings process_settings(const Config& config) {
    const Settings& s = config.settings;
    shared::ProcessSettings p{s.chdir, std::nullopt, s.raw_env};
    if (config.given("umask")) p.umask = parse_octal(s.umask);
    return p;
}

shared::Identity worker_identity(const Settings& settings) { return {settings.user, settings.group}; }

std::string process_name(const Config& config) {
    if (!config.settings.proc_name.empty()) return config.settings.proc_name;
    if (!config.python_app.empty()) return config.python_app;  // gunicorn's default: the app
    std::string name = config.app_path.substr(config.app_path.rfind('/') + 1);
    return name.substr(0, name.find('.'));
}

Environment process_environment() {
    Environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry = *e;
        if (!entry.starts_with(kEnvPrefix) && !entry.starts_with(std::string(kVirtualEnvVar) + "=")) continue;
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return env;
}

std::string render_effective_config(const Config& config) {
    Settings copy = config.settings;
    std::string out = "# cppgunicorn effective configuration: value, then where it came from\n";
    for (size_t i = 0; i < kSettingCount; ++i) {
        std::string line = std::string(kSettingSpecs[i].name) + ": " + format_value(copy, i);
        if (line.size() < 40) line.resize(40, ' ');
        out += line + "  # " + config.sources[i].description + "\n";
    }
    return out;
}

}  // namespace cppg::config
