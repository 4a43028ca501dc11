// SPDX-License-Identifier: MIT
// --reload for a Python app: the files of the modules it imported (sys.modules) are named to
// the master (host->watch_file), which reloads when one changes, keeping the old workers if
// the new code does not import. Modules imported later (on a first request) are named too.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>

namespace cppg::wsgi {

class ModuleWatch {
public:
    // Names every module file not named yet. GIL held. Cheap when nothing was imported since
    // the last call, and a no-op for good once the host says --reload is off.
    void report_new_modules();

private:
    // Held while reporting; a thread that finds it taken skips (looking up __file__ may run
    // Python code, which lets another thread in: waiting for the lock with the GIL held
    // would deadlock).
    std::mutex mu_;
    bool off_ = false;
    size_t modules_seen_ = 0;
    std::set<std::string> named_;
};

}  // namespace cppg::wsgi
