// SPDX-License-Identifier: MIT
// The bytes of an app file, captured once by the master in an anonymous in-memory file
// (memfd). Workers load the app from the image, never from the path: a file rewritten or
// replaced on disk changes nothing until a reload captures it again, and a reload that fails
// leaves the image of the last good app in use for every later spawn.
#pragma once

#include <cstdint>
#include <string>

namespace cppg::app {

class AppImage {
public:
    // Reads `path` into a new image. When no image can be made (the file cannot be read, or
    // it uses $ORIGIN, which a copy cannot honour) the result loads the file itself and
    // says why in fallback_reason(); dlopen then reports a missing file as usual.
    static AppImage capture(const std::string& path);

    AppImage() = default;
    ~AppImage();
    AppImage(AppImage&& other) noexcept;
    AppImage& operator=(AppImage&& other) noexcept;
    AppImage(const AppImage&) = delete;
    AppImage& operator=(const AppImage&) = delete;

    // The file the image was taken from, as the user named it.
    const std::string& path() const { return path_; }
    // True when the bytes are held in memory; false when loading falls back to the file.
    bool held() const { return fd_ >= 0; }
    const std::string& fallback_reason() const { return fallback_reason_; }
    uint64_t size() const { return size_; }
    // Wall-clock seconds since the epoch when it was captured (for /status).
    int64_t captured_at() const { return captured_at_; }
    // What dlopen is given: /proc/self/fd/N for a held image, else the path (with "./"
    // added to a bare name, which dlopen would otherwise look up in the library path).
    std::string dlopen_name() const;
    // In a forked worker that loads another image: this one's descriptor is not its to keep.
    void close_in_child();

private:
    std::string path_;
    std::string fallback_reason_;
    int fd_ = -1;
    uint64_t size_ = 0;
    int64_t captured_at_ = 0;
};

}  // namespace cppg::app
