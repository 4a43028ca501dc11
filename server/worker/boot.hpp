// SPDX-License-Identifier: MIT
// What a worker process runs after fork: load the app (unless preloaded), serve, exit.
#pragma once

#include <csignal>
#include <vector>

#include "app/plugin.hpp"
#include "config/loader.hpp"
#include "shared/scoreboard.hpp"

namespace cppg::worker {

// Exit codes a worker reports to the master, as gunicorn's.
constexpr int kWorkerBootError = 3;
constexpr int kWorkerAppLoadError = 4;

// Runs in the child; never returns. The app is loaded from `image` (the master's copy of the
// app file), unless `preloaded` is the app the master loaded itself (--preload).
[[noreturn]] void run_worker(const config::Config& config, const app::AppImage& image,
                             const std::vector<int>& listen_fds, shared::WorkerSlot* slot,
                             const sigset_t& master_signals, app::Plugin* preloaded);

}  // namespace cppg::worker
