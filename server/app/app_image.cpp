// SPDX-License-Identifier: MIT
#include "app/app_image.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace cppg::app {

namespace {

std::string file_stem(const std::string& path) {
    std::string base = path.substr(path.rfind('/') + 1);
    return base.substr(0, base.find('.'));
}

// The whole file, or false with `why` set.
bool read_file(const std::string& path, std::string& bytes, std::string& why) {
    int in = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return why = std::strerror(errno), false;
    char buf[1 << 16];
    for (ssize_t n; (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return why = std::strerror(errno), close(in), false;
        bytes.append(buf, static_cast<size_t>(n));
    }
    close(in);
    return true;
}

bool write_all(int fd, const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
        ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

AppImage AppImage::capture(const std::string& path) {
    AppImage image;
    image.path_ = path;
    image.captured_at_ = static_cast<int64_t>(std::time(nullptr));
    std::string bytes;
    if (!read_file(path, bytes, image.fallback_reason_)) return image;
    // $ORIGIN in its RPATH/RUNPATH means "libraries next to me": a copy has no "next to".
    if (bytes.find("$ORIGIN") != std::string::npos) {
        image.fallback_reason_ = "it uses $ORIGIN";
        return image;
    }
    // Sealed against writes: the workers of a generation must all run the same bytes.
    int fd = memfd_create(file_stem(path).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || !write_all(fd, bytes) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        image.fallback_reason_ = std::string("memfd: ") + std::strerror(errno);
        if (fd >= 0) close(fd);
        return image;
    }
    image.fd_ = fd;
    image.size_ = bytes.size();
    return image;
}

AppImage::~AppImage() {
    if (fd_ >= 0) close(fd_);
}

AppImage::AppImage(AppImage&& other) noexcept { *this = std::move(other); }

AppImage& AppImage::operator=(AppImage&& other) noexcept {
    if (this == &other) return *this;
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fallback_reason_ = std::move(other.fallback_reason_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    captured_at_ = other.captured_at_;
    return *this;
}

std::string AppImage::dlopen_name() const {
    if (fd_ >= 0) return "/proc/self/fd/" + std::to_string(fd_);
    return path_.find('/') == std::string::npos ? "./" + path_ : path_;
}

void AppImage::close_in_child() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

}  // namespace cppg::app
