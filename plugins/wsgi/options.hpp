// SPDX-License-Identifier: MIT
// The bridge's own arguments: what follows "--" on the server's command line.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace cppg::wsgi {

struct Options {
    std::vector<std::string> pythonpath;  // --pythonpath A,B: each put first in sys.path, in order
    std::string virtualenv;               // --virtualenv DIR
    unsigned threads = 1;                 // --threads N: wsgi.multithread is N > 1
    unsigned workers = 1;                 // --workers N: wsgi.multiprocess is N > 1
    std::string app;                      // MODULE, MODULE:NAME or MODULE:factory(literals)
};

// The options, or a message saying what is wrong with the arguments.
std::variant<Options, std::string> parse_options(int argc, const char* const* argv);

}  // namespace cppg::wsgi
