// SPDX-License-Identifier: MIT
// The settings reference, rendered from config/settings.def for docs/settings.md and the
// man page, so that the documentation cannot drift from the code.
#pragma once

#include <string>
#include <string_view>

namespace cppg::config {

// The template's "@SETTINGS_REFERENCE@" line replaced by one section per setting.
std::string render_settings_markdown(std::string_view template_text);

// A troff "SETTINGS" section for the man page.
std::string render_settings_man();

// Every setting that belongs in a config file, commented out at its default with its help
// above it, grouped like --help: the body of the packaged /etc/cppgunicorn/*.yaml. Removing
// the '#' of any "#name: value" line gives a valid setting.
std::string render_settings_yaml();

// Text escaped for troff (backslashes and hyphens).
std::string troff_escape(std::string_view text);

// Replaces every `marker` in `text` by `replacement`.
std::string replace_marker(std::string text, std::string_view marker, std::string_view replacement);

}  // namespace cppg::config
