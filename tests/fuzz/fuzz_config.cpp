// SPDX-License-Identifier: MIT
// libFuzzer target for the configuration path: a YAML file, CPPGUNICORN_* environment
// variables and command-line arguments, as the loader gets them. Input: three sections split
// by NUL bytes (YAML text; KEY=VALUE lines; one argument per line). Nothing may crash, and a
// configuration that loads must survive a round trip: every value it prints for
// --print-config, read back as YAML, gives the same configuration.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/docs.hpp"
#include "config/loader.hpp"
#include "config/yaml_file.hpp"

namespace {

std::vector<std::string> lines(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        out.emplace_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

// The file the loader would read for -c is the fuzzer's YAML, never a path on this machine.
bool names_a_file(const std::string& arg) {
    return arg == "-c" || arg.starts_with("--config") || (arg.starts_with("-c") && arg.size() > 2);
}

void check_round_trip(const cppg::config::Config& config) {
    using namespace cppg::config;
    Settings copy = config.settings;
    std::string yaml;
    for (size_t i = 0; i < kSettingCount; ++i) {
        std::string_view name = kSettingSpecs[i].name;
        if (name == "config") continue;  // cannot be set inside a file
        yaml += std::string(name) + ": " + format_value(copy, i) + "\n";
    }
    auto parsed = parse_yaml_settings(yaml, "round-trip.yaml");
    if (std::holds_alternative<std::string>(parsed)) std::abort();
    Settings again = default_settings();
    bool seen[kSettingCount] = {};
    for (const auto& a : std::get<std::vector<Assignment>>(parsed)) {
        if (apply_setting(again, a.index, a.value, a.source, seen[a.index])) std::abort();
        seen[a.index] = true;
    }
    for (size_t i = 0; i < kSettingCount; ++i) {
        if (kSettingSpecs[i].name == "config") continue;
        if (format_value(again, i) != format_value(copy, i)) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view parts[3];
    for (int i = 0; i < 3; ++i) {
        auto nul = input.find('\0');
        parts[i] = input.substr(0, nul);
        input = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
    }
    (void)cppg::config::parse_yaml_settings(std::string(parts[0]), "fuzz.yaml");
    cppg::config::Environment env;
    for (const auto& line : lines(parts[1])) {
        auto eq = line.find('=');
        if (eq != std::string::npos) env.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    std::vector<std::string> args;
    for (auto& arg : lines(parts[2]))
        if (!names_a_file(arg)) args.push_back(arg);
    for (const auto& [key, value] : env)
        if (key == "CPPGUNICORN_CONFIG" || (key == "CPPGUNICORN_CMD_ARGS" && value.find("-c") != std::string::npos))
            return 0;
    auto loaded = cppg::config::load_config(args, env);
    using Action = cppg::config::Config::Action;
    auto* config = std::get_if<cppg::config::Config>(&loaded);
    // --help and --version answer before any setting is applied: nothing to check then.
    if (config && config->action != Action::Help && config->action != Action::Version) {
        (void)cppg::config::render_effective_config(*config);
        check_round_trip(*config);
    }
    return 0;
}
