// SPDX-License-Identifier: MIT
#include "config/docs.hpp"

#include <algorithm>
#include <vector>

#include "config/cli.hpp"
#include "config/settings.hpp"

namespace cppg::config {

namespace {

constexpr std::string_view kMarker = "@SETTINGS_REFERENCE@";

std::vector<std::string_view> groups() {
    std::vector<std::string_view> out;
    for (const auto& spec : kSettingSpecs)
        if (std::find(out.begin(), out.end(), spec.group) == out.end()) out.push_back(spec.group);
    return out;
}

std::string env_var(std::string_view name) {
    std::string out = "CPPGUNICORN_";
    for (char c : name) out.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
    return out;
}

// "`-b VALUE`, `--bind VALUE`": each spelling wrapped in before/after; `escape` applies to
// the words, not to the wrapping (troff font codes must stay as they are).
std::string flags_text(const SettingSpec& spec, std::string_view before, std::string_view after,
                       std::string (*escape)(std::string_view) = nullptr) {
    std::string out;
    for (auto f : split_flags(spec.flags)) {
        if (!out.empty()) out += ", ";
        std::string words = std::string(f) + (spec.type == SettingType::Bool ? ""
                                              : spec.type == SettingType::Args ? " ARGS... (after the app)"
                                                                               : " VALUE");
        out += std::string(before) + (escape ? escape(words) : words) + std::string(after);
    }
    return out;
}

// Markdown table cells must not contain a bare '|'.
std::string cell(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += "\\|";
        else out.push_back(c);
    }
    return out;
}

std::string markdown_section(const SettingSpec& s) {
    std::string out = "### `" + std::string(s.name) + "`\n\n" + std::string(s.help) + "\n\n";
    out += "| | |\n|---|---|\n";
    out += "| command line | " + flags_text(s, "`", "`") + " |\n";
    out += "| YAML key | `" + std::string(s.name) + "` |\n";
    out += "| environment | `" + env_var(s.name) + "` |\n";
    out += "| type | " + std::string(type_name(s.type)) + " |\n";
    out += "| default | " + (s.default_text.empty() ? std::string("(none)") : "`" + cell(s.default_text) + "`") + " |\n";
    out += "| allowed | " + cell(describe_allowed(s)) + " |\n\n";
    if (!s.doc.empty()) out += std::string(s.doc) + "\n\n";
    return out;
}

// Settings that ask the command for something (print, check, probe) rather than configure
// a server: they have no place in a config file.
bool is_command_only(std::string_view name) {
    return name == "config" || name == "print_config" || name == "check_config" || name == "probe";
}

}  // namespace

std::string troff_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out.push_back(c);
    }
    return out;
}

std::string replace_marker(std::string text, std::string_view marker, std::string_view replacement) {
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + replacement.size()))
        text.replace(at, marker.size(), replacement);
    return text;
}

std::string render_settings_markdown(std::string_view template_text) {
    std::string reference;
    for (auto group : groups()) {
        reference += "## " + std::string(group) + "\n\n";
        for (const auto& spec : kSettingSpecs)
            if (spec.group == group) reference += markdown_section(spec);
    }
    std::string out = replace_marker(std::string(template_text), kMarker, reference);
    while (out.ends_with("\n\n")) out.pop_back();
    return out;
}

std::string render_settings_yaml() {
    Settings defaults = default_settings();
    std::string out;
    for (auto group : groups()) {
        std::string section;
        for (size_t i = 0; i < kSettingCount; ++i) {
            const SettingSpec& s = kSettingSpecs[i];
            if (s.group != group || is_command_only(s.name)) continue;
            section += "\n# " + std::string(s.help) + "\n";
            section += "#" + std::string(s.name) + ": " + format_value(defaults, i) + "\n";
        }
        if (!section.empty()) out += "\n## " + std::string(group) + "\n" + section;
    }
    return out;
}

std::string render_settings_man() {
    std::string out = ".SH SETTINGS\n";
    for (auto group : groups()) {
        out += ".SS " + troff_escape(group) + "\n";
        for (const auto& s : kSettingSpecs) {
            if (s.group != group) continue;
            out += ".TP\n" + flags_text(s, "\\fB", "\\fR", troff_escape) + "\n";
            out += troff_escape(s.help) + " Default: " +
                   troff_escape(s.default_text.empty() ? "none" : s.default_text) +
                   ". Environment: " + env_var(s.name) + ".\n";
            if (!s.doc.empty()) out += troff_escape(s.doc) + "\n";
        }
    }
    return out;
}

}  // namespace cppg::config
