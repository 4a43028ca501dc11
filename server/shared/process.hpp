// SPDX-License-Identifier: MIT
// Process-level settings: working directory, umask, environment, daemonizing, privilege
// drop and process titles.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace cppg::shared {

// What the master applies to itself before anything is loaded, so that workers inherit it:
// --chdir, --umask (only when given) and the -e variables.
struct ProcessSettings {
    std::string chdir;
    std::optional<unsigned> umask;
    std::vector<std::string> env;  // KEY=VALUE
};

// Applies them. Returns an error naming the failed call.
std::optional<std::string> apply_process_settings(const ProcessSettings& settings);

// Whom workers run as (--user, --group): names or numeric ids, empty for unchanged.
struct Identity {
    std::string user;
    std::string group;
};

// A user (name or uid) and its primary group, or a group (name or gid), on this system.
std::optional<std::pair<uid_t, gid_t>> lookup_user(std::string_view name);
std::optional<gid_t> lookup_group(std::string_view name);

// The uid and gid workers switch to; -1 for one that is not set.
std::pair<uid_t, gid_t> worker_ids(const Identity& identity);

// Detaches from the terminal (fork, setsid, fork, stdio to /dev/null). Returns in the
// daemon only.
std::optional<std::string> daemonize();

// In a worker, before the app loads: group, supplementary groups, then user.
std::optional<std::string> drop_privileges(const Identity& identity);

// Remembers where argv lives so that set_process_title can overwrite it (what ps shows),
// and keeps a copy of the arguments for a binary upgrade.
void init_process_title(int argc, char** argv);
// The command line the server was started with, argv[0] made absolute (for USR2).
const std::vector<std::string>& original_command();
void set_process_title(std::string_view title);

}  // namespace cppg::shared
