// SPDX-License-Identifier: MIT
#include "worker/check.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/plugin.hpp"
#include "shared/process.hpp"
#include "shared/signals.hpp"
#include "worker/host_api.hpp"

namespace cppg::worker {

namespace {

// What the child reports when the app got through; anything else is why it did not (an app
// that ends the process itself reports nothing).
constexpr const char* kStarted = "started";

// The boot as a worker runs it, up to the point where it would serve; the reason it stops
// short, or "" when it gets through. The app's own log lines go to stderr meanwhile.
std::string boot_once(const config::Config& config) {
    if (auto err = shared::apply_process_settings(config::process_settings(config))) return *err;
    if (auto err = shared::drop_privileges(config::worker_identity(config.settings))) return "cannot switch user or group: " + *err;
    auto image = app::AppImage::capture(config.app_path);
    auto loaded = app::Plugin::load(image);
    if (auto* err = std::get_if<std::string>(&loaded)) return *err;
    auto& plugin = *std::get<std::unique_ptr<app::Plugin>>(loaded);
    open_boot();
    if (auto err = plugin.init(config.app_args, host_table())) return *err;
    if (auto why = boot_failure()) return *why;
    auto err = plugin.worker_start();
    if (auto why = boot_failure()) return *why;
    if (err) return *err;
    std::string thread_error;
    std::thread([&] {
        if (auto failed = plugin.thread_start(0)) return void(thread_error = *failed);
        if (auto why = boot_failure()) return void(thread_error = *why);
        plugin.thread_stop(0);
    }).join();
    close_boot();
    if (!thread_error.empty()) return thread_error;
    plugin.worker_exit();
    plugin.shutdown();
    return "";
}

[[noreturn]] void run_check_child(const config::Config& config, int report_fd) {
    spdlog::set_default_logger(spdlog::stderr_logger_mt("check"));
    spdlog::set_pattern("[%Y-%m-%d %H:%M:%S %z] [%P] [%l] %v");
    std::string why = boot_once(config);
    std::string report = why.empty() ? kStarted : why;
    (void)!write(report_fd, report.data(), report.size());
    spdlog::shutdown();
    _exit(why.empty() ? 0 : 1);
}

std::string read_all(int fd) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

}  // namespace

int check_app(const config::Config& config) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        std::fprintf(stderr, "cppgunicorn: check failed: pipe2() failed (%d: %s)\n", errno, std::strerror(errno));
        return 1;
    }
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_check_child(config, report[1]);
    }
    close(report[1]);
    std::string why = pid > 0 ? read_all(report[0]) : std::string("fork() failed: ") + std::strerror(errno);
    close(report[0]);
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (pid > 0 && WIFSIGNALED(status))
        why = "the app killed the process while starting (" +
              std::string(shared::signal_name(WTERMSIG(status))) + ")";
    else if (pid > 0 && why.empty())
        why = "the app ended the process while starting (exit code " +
              std::to_string(WEXITSTATUS(status)) + ")";
    if (why != kStarted) {
        std::fprintf(stderr, "cppgunicorn: check failed: %s\n", why.c_str());
        return 1;
    }
    std::printf("configuration OK; app '%s' starts (init, worker_start and thread_start ran; app ABI %d)\n",
                config.app_path.c_str(), CPPG_ABI_VERSION);
    return 0;
}

}  // namespace cppg::worker
