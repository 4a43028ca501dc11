// SPDX-License-Identifier: MIT
#include "master/file_watcher.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "shared/watch_list.hpp"

namespace cppg::master {

namespace {

constexpr uint32_t kFileEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB;

}  // namespace

FileWatcher::~FileWatcher() {
    if (fd_ >= 0) close(fd_);
    if (!list_dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(list_dir_, ignored);
    }
}

bool FileWatcher::start() {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) spdlog::error("inotify_init1() failed ({}: {}); --reload is off", errno, std::strerror(errno));
    return fd_ >= 0;
}

void FileWatcher::watch(const std::string& path) {
    if (fd_ < 0 || path.empty() || !paths_.insert(path).second) return;
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    int wd = inotify_add_watch(fd_, dir.c_str(), kFileEvents);
    if (wd < 0) {
        spdlog::error("inotify_add_watch({}) failed ({}: {})", dir, errno, std::strerror(errno));
        return;
    }
    watched_.emplace(wd, name);
    spdlog::debug("reload: watching {}", path);
}

void FileWatcher::follow_list(uid_t worker_uid, gid_t worker_gid) {
    if (fd_ < 0) return;
    char dir_template[] = "/tmp/cppgunicorn-watch-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
        spdlog::error("mkdtemp() failed ({}: {}); the app's own files are not watched", errno, std::strerror(errno));
        return;
    }
    list_dir_ = dir_template;
    list_path_ = list_dir_ + "/files";
    int fd = open(list_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    // Workers may run as another user (--user): the file is theirs, and nobody else's.
    if (fd >= 0 && worker_uid != static_cast<uid_t>(-1) && fchown(fd, worker_uid, worker_gid) != 0)
        spdlog::warn("fchown({}) failed ({}: {})", list_path_, errno, std::strerror(errno));
    if (fd >= 0) close(fd);
    if (worker_uid != static_cast<uid_t>(-1)) chmod(list_dir_.c_str(), 0711);
    list_wd_ = inotify_add_watch(fd_, list_dir_.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
    setenv(shared::kWatchListVar, list_path_.c_str(), 1);
}

bool FileWatcher::read_changes() {
    bool changed = false, list_grew = false;
    alignas(inotify_event) char buf[4096];
    for (;;) {
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (ev->wd == list_wd_) list_grew = true;
            if (ev->len != 0 && watched_.count({ev->wd, ev->name})) changed = true;
        }
    }
    if (list_grew) read_new_list_entries();
    return changed;
}

// Lines appended since the last read, each a path to watch (a partial last line waits).
void FileWatcher::read_new_list_entries() {
    std::ifstream in(list_path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(list_read_));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t end = text.rfind('\n');
    if (end == std::string::npos) return;
    list_read_ += end + 1;
    for (size_t start = 0; start <= end;) {
        size_t nl = text.find('\n', start);
        watch(text.substr(start, nl - start));
        start = nl + 1;
    }
}

void FileWatcher::close_in_child() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    list_dir_.clear();  // the master's to remove
}

}  // namespace cppg::master
