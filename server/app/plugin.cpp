// SPDX-License-Identifier: MIT
#include "app/plugin.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <exception>

#include <spdlog/spdlog.h>

namespace cppg::app {

namespace {

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dot = base.find('.');
    return dot == std::string::npos ? base : base.substr(0, dot);
}

// dlopen only searches the library path for names without a slash, which would surprise
// someone who typed "app.so" meaning the file in the current directory.
std::string as_dlopen_path(const std::string& path) {
    return path.find('/') == std::string::npos ? "./" + path : path;
}

// The app's bytes in an anonymous in-memory file (memfd), or -1 with `why` set. dlopen maps
// the file it is given; `cp new.so app.so` rewrites that same file under a running worker,
// whose pages then change beneath it and it crashes. A private copy cannot change.
int private_copy(const std::string& path, std::string& why) {
    int in = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return why = std::strerror(errno), -1;
    std::string bytes;
    char buf[1 << 16];
    for (ssize_t n; (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return why = std::strerror(errno), close(in), -1;
        bytes.append(buf, static_cast<size_t>(n));
    }
    close(in);
    // $ORIGIN in its RPATH/RUNPATH means "libraries next to me": a copy has no "next to".
    if (bytes.find("$ORIGIN") != std::string::npos) return why = "it uses $ORIGIN", -1;
    int fd = memfd_create(basename_of(path).c_str(), MFD_CLOEXEC);
    if (fd < 0) return why = std::strerror(errno), -1;
    for (size_t off = 0; off < bytes.size();) {
        ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return why = std::strerror(errno), close(fd), -1;
        off += static_cast<size_t>(n);
    }
    return fd;
}

// dlopen of the private copy, or of the file itself when no copy can be made.
void* open_library(const std::string& path, std::string& error) {
    std::string why;
    int copy = private_copy(path, why);
    std::string target = copy >= 0 ? "/proc/self/fd/" + std::to_string(copy) : as_dlopen_path(path);
    if (copy < 0 && why != std::strerror(ENOENT))
        spdlog::warn("loading app '{}' from the file itself, not a private copy ({}): replace it "
                     "by renaming a new file over it, never by writing into it", path, why);
    // RTLD_NOW: an unresolved symbol fails here, at startup, not on the first request.
    void* library = dlopen(target.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        error = dlerror();
        // Name the file the user gave, not the descriptor the copy was opened through.
        if (auto at = error.find(target); at != std::string::npos) error.replace(at, target.size(), path);
    }
    if (copy >= 0) close(copy);  // the mapping keeps the copy alive
    return library;
}

}  // namespace

std::variant<std::unique_ptr<Plugin>, std::string> Plugin::load(const std::string& path) {
    std::unique_ptr<Plugin> p(new Plugin());
    p->path_ = path;
    std::string error;
    p->library_ = open_library(path, error);
    if (p->library_ == nullptr) return "cannot load app '" + path + "': " + error;
    dlerror();
    auto on_load = reinterpret_cast<cppg_app_on_load_fn>(dlsym(p->library_, "cppg_app_on_load"));
    if (on_load == nullptr)
        return "cannot load app '" + path +
               "': it does not export cppg_app_on_load() (is it a cppgunicorn app built "
               "against include/cppgunicorn/app.h?)";
    p->app_ = on_load();
    if (p->app_ == nullptr) return "cannot load app '" + path + "': cppg_app_on_load() returned NULL";
    if (p->app_->abi_version != CPPG_ABI_VERSION)
        return "cannot load app '" + path + "': it was built for app ABI version " +
               std::to_string(p->app_->abi_version) + ", this server speaks version " +
               std::to_string(CPPG_ABI_VERSION) + "; rebuild the app against this server's headers";
    if (p->app_->struct_size < sizeof(cppg_app_t) || p->app_->handle == nullptr)
        return "cannot load app '" + path + "': its descriptor is incomplete (struct_size " +
               std::to_string(p->app_->struct_size) + ", handle " +
               (p->app_->handle ? "set" : "missing") + ")";
    p->name_ = p->app_->name ? p->app_->name : basename_of(path);
    return p;
}

Plugin::~Plugin() {
    // The library stays mapped: app threads or atexit handlers may still point into it.
}

std::optional<std::string> Plugin::init(const std::vector<std::string>& args, const cppg_host_t* host) {
    args_ = args;
    argv_.clear();
    for (const auto& a : args_) argv_.push_back(a.c_str());
    argv_.push_back(nullptr);
    if (app_->init == nullptr) return initialized_ = true, std::nullopt;
    int rc = 0;
    try {
        rc = app_->init(host, static_cast<int>(args_.size()), argv_.data(), &state_);
    } catch (const std::exception& e) {
        return "app '" + path_ + "' init threw: " + e.what();
    } catch (...) {
        return "app '" + path_ + "' init threw an unknown exception";
    }
    if (rc != 0) return "app '" + path_ + "' init failed with code " + std::to_string(rc);
    initialized_ = true;
    return std::nullopt;
}

int Plugin::handle(cppg_request_t* request, bool& threw) const noexcept {
    threw = false;
    try {
        return app_->handle(state_, request);
    } catch (const std::exception& e) {
        spdlog::error("app '{}' threw from handle: {}", name_, e.what());
    } catch (...) {
        spdlog::error("app '{}' threw an unknown exception from handle", name_);
    }
    threw = true;
    return -1;
}

std::optional<std::string> Plugin::worker_start() const {
    if (app_->worker_start == nullptr) return std::nullopt;
    int rc = app_->worker_start(state_);
    if (rc != 0) return "app '" + path_ + "' worker_start failed with code " + std::to_string(rc);
    return std::nullopt;
}

void Plugin::thread_start(unsigned index) const {
    if (app_->thread_start) app_->thread_start(state_, index);
}

void Plugin::thread_stop(unsigned index) const {
    if (app_->thread_stop) app_->thread_stop(state_, index);
}

void Plugin::pre_request(cppg_request_t* request) const {
    if (app_->pre_request) app_->pre_request(state_, request);
}

void Plugin::post_request(cppg_request_t* request, int status) const {
    if (app_->post_request) app_->post_request(state_, request, status);
}

void Plugin::worker_exit() const {
    if (app_->worker_exit) app_->worker_exit(state_);
}

void Plugin::shutdown() {
    if (!initialized_) return;
    initialized_ = false;
    if (app_->shutdown) app_->shutdown(state_);
}

}  // namespace cppg::app
