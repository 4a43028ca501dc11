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

}  // namespace cppg::config
