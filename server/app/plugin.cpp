// SPDX-License-Identifier: MIT
#include "app/plugin.hpp"

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdlib>
#include <exception>
#include <typeinfo>

#include <spdlog/spdlog.h>

namespace cppg::app {

namespace {

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dot = base.find('.');
    return dot == std::string::npos ? base : base.substr(0, dot);
}

// The demangled type of the exception being handled (call inside a catch block).
std::string exception_type() {
    std::type_info* type = abi::__cxa_current_exception_type();
    if (type == nullptr) return "unknown exception";
    int status = 0;
    char* name = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
    std::string text = status == 0 && name ? name : type->name();
    std::free(name);
    return text;
}

// RTLD_NOW: an unresolved symbol fails here, at startup, not on the first request.
void* open_library(const AppImage& image, std::string& error) {
    std::string target = image.dlopen_name();
    void* library = dlopen(target.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        error = dlerror();
        // Name the file the user gave, not the descriptor the image is read through.
        if (auto at = error.find(target); at != std::string::npos) error.replace(at, target.size(), image.path());
    }
    return library;
}

}  // namespace

// No exception may cross the C ABI, but an app written in C++ without the SDK can let one
// escape: it is caught here and described (type and message) instead of ending the process.
template <typename Call>
std::optional<std::string> Plugin::contain(const char* hook, Call&& call) const noexcept {
    try {
        call();
        return std::nullopt;
    } catch (const std::exception& e) {
        return "app '" + path_ + "' threw from " + hook + ": " + exception_type() + ": " + e.what();
    } catch (...) {
        return "app '" + path_ + "' threw from " + hook + ": " + exception_type();
    }
}

std::variant<std::unique_ptr<Plugin>, std::string> Plugin::load(const AppImage& image) {
    const std::string& path = image.path();
    std::unique_ptr<Plugin> p(new Plugin());
    p->path_ = path;
    std::string error;
    p->library_ = open_library(image, error);
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
    auto call = [&] { rc = app_->init(host, static_cast<int>(args_.size()), argv_.data(), &state_); };
    if (auto err = contain("init", call)) return err;
    if (rc != 0) return "app '" + path_ + "' init failed with code " + std::to_string(rc);
    initialized_ = true;
    return std::nullopt;
}

int Plugin::handle(cppg_request_t* request, bool& threw) const noexcept {
    threw = false;
    int rc = -1;
    if (auto err = contain("handle", [&] { rc = app_->handle(state_, request); })) {
        spdlog::error("{}", *err);
        threw = true;
        return -1;
    }
    return rc;
}

std::optional<std::string> Plugin::worker_start() const {
    if (app_->worker_start == nullptr) return std::nullopt;
    int rc = 0;
    if (auto err = contain("worker_start", [&] { rc = app_->worker_start(state_); })) return err;
    if (rc != 0) return "app '" + path_ + "' worker_start failed with code " + std::to_string(rc);
    return std::nullopt;
}

std::optional<std::string> Plugin::thread_start(unsigned index) const {
    if (app_->thread_start == nullptr) return std::nullopt;
    return contain("thread_start", [&] { app_->thread_start(state_, index); });
}

void Plugin::thread_stop(unsigned index) const {
    if (app_->thread_stop == nullptr) return;
    if (auto err = contain("thread_stop", [&] { app_->thread_stop(state_, index); })) spdlog::error("{}", *err);
}

void Plugin::pre_request(cppg_request_t* request) const {
    if (app_->pre_request == nullptr) return;
    if (auto err = contain("pre_request", [&] { app_->pre_request(state_, request); })) spdlog::error("{}", *err);
}

void Plugin::post_request(cppg_request_t* request, int status) const {
    if (app_->post_request == nullptr) return;
    if (auto err = contain("post_request", [&] { app_->post_request(state_, request, status); }))
        spdlog::error("{}", *err);
}

void Plugin::worker_exit() const {
    if (app_->worker_exit == nullptr) return;
    if (auto err = contain("worker_exit", [&] { app_->worker_exit(state_); })) spdlog::error("{}", *err);
}

void Plugin::fork_event(cppg_fork_phase_t phase) const {
    if (app_->fork_event == nullptr) return;
    if (auto err = contain("fork_event", [&] { app_->fork_event(state_, phase); })) spdlog::error("{}", *err);
}

void Plugin::shutdown() {
    if (!initialized_) return;
    initialized_ = false;
    if (app_->shutdown) app_->shutdown(state_);
}

}  // namespace cppg::app
