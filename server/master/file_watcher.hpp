// SPDX-License-Identifier: MIT
// --reload: the files an app is made of, watched with inotify. Directories are watched, not
// files: a rebuilt .so usually arrives as a new file renamed over the old one, which a watch
// on the old inode would never report. Besides the app file and the config file, the app
// itself may name files (host->watch_file: a Python app's modules, templates): workers append
// them to a list file that this watcher follows.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <utility>

namespace cppg::master {

class FileWatcher {
public:
    FileWatcher() = default;
    ~FileWatcher();
    FileWatcher(const FileWatcher&) = delete;
    FileWatcher& operator=(const FileWatcher&) = delete;

    // Starts watching; false (logged) when inotify is not available.
    bool start();
    // Watches one more file; a file already watched is ignored.
    void watch(const std::string& path);
    // Creates the list file that workers append to (its path goes to them in the
    // environment, shared::kWatchListVar), writable by the workers' user only, and follows it.
    void follow_list(uid_t worker_uid, gid_t worker_gid);
    // For poll(); -1 before start().
    int fd() const { return fd_; }
    // Reads what happened; true when a watched file changed.
    bool read_changes();
    // In a forked worker: the descriptors are the master's.
    void close_in_child();

private:
    void read_new_list_entries();

    int fd_ = -1;
    std::set<std::pair<int, std::string>> watched_;  // watch descriptor, file name
    std::set<std::string> paths_;
    std::string list_dir_;   // private directory of the list file
    std::string list_path_;
    int list_wd_ = -1;
    size_t list_read_ = 0;   // bytes of the list file taken so far
};

}  // namespace cppg::master
