// SPDX-License-Identifier: MIT
// The list through which an app names the files it is made of (host->watch_file), for the
// master's --reload: the master creates the file and names it in the environment; workers
// (and a preloading master) append one path a line.
#pragma once

#include <string>

namespace cppg::shared {

inline constexpr const char* kWatchListVar = "CPPGUNICORN_WATCH_LIST";

// Appends `path` (made absolute) to the list; false when there is no list (--reload is off)
// or it cannot be written.
bool append_to_watch_list(const std::string& path);

}  // namespace cppg::shared
