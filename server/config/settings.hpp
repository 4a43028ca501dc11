// SPDX-License-Identifier: MIT
// The Settings struct and the table that describes it, both generated from
// config/settings.def so that a setting is declared in exactly one place.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppg::config {

using IntValue = int64_t;
using StrValue = std::string;
using BoolValue = bool;
using StrListValue = std::vector<std::string>;
using ChoiceValue = std::string;
using ArgsValue = std::vector<std::string>;  // words: a YAML list, or split like a shell's

enum class SettingType { Int, Str, Bool, StrList, Choice, Args };

struct Settings {
#define SETTING(name, group, flags, type, def, allowed, help, doc) type##Value name{};
#include "settings.def"
#undef SETTING
};

// One row of config/settings.def, plus where to store the value.
struct SettingSpec {
    std::string_view name;
    std::string_view group;
    std::string_view flags;
    SettingType type;
    std::string_view default_text;
    std::string_view allowed;
    std::string_view help;
    std::string_view doc;
};

constexpr std::array kSettingSpecs = {
#define SETTING(name, group, flags, type, def, allowed, help, doc) \
    SettingSpec{#name, group, flags, SettingType::type, def, allowed, help, doc},
#include "settings.def"
#undef SETTING
};

constexpr size_t kSettingCount = kSettingSpecs.size();

// Index of a setting in kSettingSpecs, or nullopt.
std::optional<size_t> find_setting(std::string_view name);

// Where a value came from, for error messages and (later) --print-config.
struct Source {
    std::string description;  // "default", "command line flag --bind", ...
};

// Parses `text` as the value of setting `index` and stores it. On failure returns a message
// naming the setting, the value, the source and what is allowed.
std::optional<std::string> apply_setting(Settings& settings, size_t index, std::string_view text,
                                         const Source& source, bool append);

// Settings with every default applied. Defaults go through the same parser as user input.
Settings default_settings();

// Text of the allowed values of a spec, for messages and docs.
std::string describe_allowed(const SettingSpec& spec);

std::string_view type_name(SettingType type);

// The value of a validated "@octal" setting.
unsigned parse_octal(std::string_view text);

// A list of values: repeated flags (StrList), or words (Args).
constexpr bool is_list(SettingType type) { return type == SettingType::StrList || type == SettingType::Args; }

// The value of setting `index` as YAML ("4", "true", "\"text\"", "[\"a\", \"b\"]").
std::string format_value(Settings& settings, size_t index);

}  // namespace cppg::config
