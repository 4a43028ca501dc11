// SPDX-License-Identifier: MIT
// Process-level settings: working directory, umask, environment, daemonizing, privilege
// drop and process titles.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"

namespace cppg::shared {

// chdir, umask and -e variables, applied in the master before anything is loaded, so that
// workers inherit them. Returns an error naming the failed call.
std::optional<std::string> apply_process_settings(const config::Config& config);

// The uid and gid workers switch to (--user/--group); -1 for one that is not set.
std::pair<uid_t, gid_t> worker_ids(const config::Settings& settings);

// Detaches from the terminal (fork, setsid, fork, stdio to /dev/null). Returns in the
// daemon only.
std::optional<std::string> daemonize();

// In a worker, before the app loads: group, supplementary groups, then user.
std::optional<std::string> drop_privileges(const config::Settings& settings);

// Remembers where argv lives so that set_process_title can overwrite it (what ps shows),
// and keeps a copy of the arguments for a binary upgrade.
void init_process_title(int argc, char** argv);
// The command line the server was started with, argv[0] made absolute (for USR2).
const std::vector<std::string>& original_command();
void set_process_title(std::string_view title);
// --name, or the Python app (MODULE:CALLABLE), or the app's file name without directory and
// extension.
std::string process_name(const config::Config& config);

}  // namespace cppg::shared
