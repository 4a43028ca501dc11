// cppg_settings_doc: renders what is generated from the settings table (and the signals
// table) into a template, on standard output:
//   markdown TEMPLATE   docs/settings.md      (marker @SETTINGS_REFERENCE@)
//   man TEMPLATE        the cppgunicorn(1) page (markers %%SETTINGS%% and %%SIGNALS%%)
//   yaml TEMPLATE       the packaged config file (marker %%SETTINGS%%)
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "config/docs.hpp"
#include "master/signals.hpp"

namespace {

std::string signals_man() {
    std::string out;
    for (const auto& s : cppg::master::kSignals) {
        out += ".TP\n\\fBSIG" + cppg::config::troff_escape(s.name) + "\\fR\n" + cppg::config::troff_escape(s.master_action) + ".";
        out += " Workers: " + cppg::config::troff_escape(s.worker_action) + ".\n";
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (argc < 3 || (mode != "markdown" && mode != "man" && mode != "yaml")) {
        std::fputs("usage: cppg_settings_doc markdown|man|yaml TEMPLATE\n", stderr);
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
    } else {
        out = replace_marker(text.str(), "%%SETTINGS%%\n", cppg::config::render_settings_yaml());
    }
    std::fputs(out.c_str(), stdout);
    return 0;
}
