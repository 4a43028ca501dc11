// SPDX-License-Identifier: MIT
// One request through the WSGI app: the GIL and a fresh contextvars.Context taken, the
// environ built, the app called, its result sent (iterated chunk by chunk, or a file with
// sendfile) and closed exactly once, then the GIL given back before the last bytes go out.
#pragma once

#include "cppgunicorn_module.hpp"
#include "environ.hpp"
#include "module_watch.hpp"
#include "options.hpp"
#include "python.hpp"

namespace cppg::wsgi {

// What init prepared: the app and what every request uses.
struct Bridge {
    Options options;
    ModuleParts module;
    Ref app;
    EnvironBuilder environ;
    ModuleWatch module_watch;
};

// The ABI's handle: 0 when the response is complete; non-zero makes the host answer 500
// (nothing committed yet) or close the connection (a response under way).
int handle_request(Bridge& bridge, cppg_request_t* req);

}  // namespace cppg::wsgi
