// SPDX-License-Identifier: MIT
// --check-config: what a worker does before it serves, once, in a throwaway child, so that a
// deploy script learns that a build cannot start before it sends HUP (gunicorn's check
// imports the app).
#pragma once

#include "config/loader.hpp"

namespace cppg::worker {

// Loads the app with the real settings (working directory, environment, user) and runs init,
// worker_start and one thread_start (then thread_stop, worker_exit and shutdown) in a child
// process. Prints the outcome: the app's own message on failure. Returns the exit code: 0
// when the app starts, 1 when it does not.
int check_app(const config::Config& config);

}  // namespace cppg::worker
