// SPDX-License-Identifier: MIT
// Loading an app plugin (dlopen) and calling its descriptor through the v1 ABI.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/app_image.hpp"
#include "cppgunicorn/app.h"

namespace cppg::app {

class Plugin {
public:
    // Loads the app from its image and checks its descriptor. The error names the file and
    // the cause.
    static std::variant<std::unique_ptr<Plugin>, std::string> load(const AppImage& image);
    ~Plugin();
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    // Calls the app's init once with its arguments and the host's function table; an error
    // message on failure.
    std::optional<std::string> init(const std::vector<std::string>& args, const cppg_host_t* host);
    // Calls the app's handle. Never throws: a C++ exception escaping a misbehaving app is
    // caught and reported through `threw`.
    int handle(cppg_request_t* request, bool& threw) const noexcept;
    void shutdown();

    // The optional hooks; each is a no-op when the app leaves it NULL. None throws: what an
    // app lets escape is caught. Those that can fail the boot return why; the others log it.
    std::optional<std::string> worker_start() const;
    std::optional<std::string> thread_start(unsigned index) const;
    void thread_stop(unsigned index) const;
    void pre_request(cppg_request_t* request) const;
    void post_request(cppg_request_t* request, int status) const;
    void worker_exit() const;
    // Around a worker's fork when the app was loaded in the master (--preload).
    void fork_event(cppg_fork_phase_t phase) const;

    const std::string& name() const { return name_; }
    const std::string& path() const { return path_; }

private:
    Plugin() = default;
    template <typename Call>
    std::optional<std::string> contain(const char* hook, Call&& call) const noexcept;

    std::string path_;
    std::string name_;
    void* library_ = nullptr;
    const cppg_app_t* app_ = nullptr;
    void* state_ = nullptr;
    bool initialized_ = false;
    std::vector<std::string> args_;
    std::vector<const char*> argv_;
};

}  // namespace cppg::app
