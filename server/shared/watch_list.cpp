// SPDX-License-Identifier: MIT
#include "shared/watch_list.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace cppg::shared {

bool append_to_watch_list(const std::string& path) {
    const char* list = std::getenv(kWatchListVar);
    if (list == nullptr || *list == '\0' || path.empty() || path.find('\n') != std::string::npos) return false;
    std::error_code ec;
    std::string line = std::filesystem::absolute(path, ec).lexically_normal().string() + "\n";
    if (ec) return false;
    int fd = open(list, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return false;
    // One write of a short line: appends from several workers never interleave.
    bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    close(fd);
    return ok;
}

}  // namespace cppg::shared
