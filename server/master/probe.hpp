// SPDX-License-Identifier: MIT
// `cppgunicorn --probe PATH`: a GET to the admin listener, for health checks that have no
// curl (a container's HEALTHCHECK). Prints the status line and body.
#pragma once

#include <string>

namespace cppg::master {

// Returns the process exit code: 0 for a 200 answer, 1 for anything else or no answer.
int run_probe(const std::string& admin_address, const std::string& path);

}  // namespace cppg::master
