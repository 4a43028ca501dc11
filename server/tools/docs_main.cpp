// SPDX-License-Identifier: MIT
// cppg_settings_doc: renders what is generated from the settings table (and the signals
// table) into a template, on standard output:
//   markdown TEMPLATE   docs/settings.md      (marker @SETTINGS_REFERENCE@)
//   man TEMPLATE        the cppgunicorn(1) page (markers %%SETTINGS%% and %%SIGNALS%%)
//   yaml TEMPLATE       the packaged config file (marker %%SETTINGS%%)
//   signals TEMPLATE    docs/signals.md          (marker @SIGNALS_TABLE@)
//   metrics TEMPLATE    docs/operations.md       (marker @METRICS_TABLE@, from master/metrics.def)
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "config/docs.hpp"
#include "master/metrics_table.hpp"
#include "shared/signals.hpp"

namespace {

// Markdown code spans (`TERM`) read as plain words in the man page.
std::string plain(std::string_view markdown) {
    std::string out;
    for (char c : markdown)
        if (c != '`') out += c;
    return out;
}

std::string signals_man() {
    std::string out;
    for (const auto& s : cppg::shared::signal_table()) {
        out += ".TP\n\\fBSIG" + cppg::config::troff_escape(s.name) + "\\fR\n" +
               cppg::config::troff_escape(plain(s.master_doc)) + ".";
        out += " Workers: " + cppg::config::troff_escape(plain(s.worker_doc)) + ".\n";
    }
    return out;
}

std::string signals_markdown() {
    std::string out = "| signal | master | worker |\n|---|---|---|\n";
    for (const auto& s : cppg::shared::signal_table())
        out += "| `" + std::string(s.name) + "` | " + std::string(s.master_doc) + " | " +
               std::string(s.worker_doc) + " |\n";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (argc < 3 || (mode != "markdown" && mode != "man" && mode != "yaml" && mode != "signals" && mode != "metrics")) {
        std::fputs("usage: cppg_settings_doc markdown|man|yaml|signals|metrics TEMPLATE\n", stderr);
        return 2;
    }
    std::ifstream in(argv[2]);
    if (!in) {
        std::fprintf(stderr, "cppg_settings_doc: cannot read %s\n", argv[2]);
        return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string out;
    using cppg::config::replace_marker;
    if (mode == "markdown") {
        out = cppg::config::render_settings_markdown(text.str());
    } else if (mode == "man") {
        out = replace_marker(text.str(), "%%SETTINGS%%\n", cppg::config::render_settings_man());
        out = replace_marker(out, "%%SIGNALS%%\n", signals_man());
    } else if (mode == "metrics") {
        out = replace_marker(text.str(), "@METRICS_TABLE@\n", cppg::master::render_metrics_markdown());
    } else if (mode == "signals") {
        out = replace_marker(text.str(), "@SIGNALS_TABLE@\n", signals_markdown());
    } else {
        out = replace_marker(text.str(), "%%SETTINGS%%\n", cppg::config::render_settings_yaml());
    }
    std::fputs(out.c_str(), stdout);
    return 0;
}
