// cppg_settings_doc markdown TEMPLATE | man: prints the settings reference.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "config/docs.hpp"

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "man") {
        std::fputs(cppg::config::render_settings_man().c_str(), stdout);
        return 0;
    }
    if (mode == "markdown" && argc > 2) {
        std::ifstream in(argv[2]);
        if (!in) {
            std::fprintf(stderr, "cppg_settings_doc: cannot read %s\n", argv[2]);
            return 1;
        }
        std::ostringstream text;
        text << in.rdbuf();
        std::fputs(cppg::config::render_settings_markdown(text.str()).c_str(), stdout);
        return 0;
    }
    std::fputs("usage: cppg_settings_doc markdown TEMPLATE | man\n", stderr);
    return 2;
}
