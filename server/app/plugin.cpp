#include "app/plugin.hpp"

#include <dlfcn.h>

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

}  // namespace

std::variant<std::unique_ptr<Plugin>, std::string> Plugin::load(const std::string& path) {
    std::unique_ptr<Plugin> p(new Plugin());
    p->path_ = path;
    // RTLD_NOW: an unresolved symbol fails here, at startup, not on the first request.
    p->library_ = dlopen(as_dlopen_path(path).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (p->library_ == nullptr)
        return "cannot load app '" + path + "': " + std::string(dlerror());
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

std::optional<std::string> Plugin::init(const std::vector<std::string>& args) {
    args_ = args;
    argv_.clear();
    for (const auto& a : args_) argv_.push_back(a.c_str());
    argv_.push_back(nullptr);
    if (app_->init == nullptr) return initialized_ = true, std::nullopt;
    int rc = 0;
    try {
        rc = app_->init(host_table(), static_cast<int>(args_.size()), argv_.data(), &state_);
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
