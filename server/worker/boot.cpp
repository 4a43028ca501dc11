// SPDX-License-Identifier: MIT
#include "worker/boot.hpp"

#include <execinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "app/plugin.hpp"
#include "log/logging.hpp"
#include "shared/process.hpp"
#include "shared/signals.hpp"
#include "worker/executor.hpp"
#include "worker/host_api.hpp"
#include "worker/worker.hpp"

namespace cppg::worker {

namespace {

[[noreturn]] void leave(int code);
[[noreturn]] void boot_failed(shared::WorkerSlot* slot, int code, const std::string& why);

// SIGABRT from the master lands on the stuck thread (tgkill): print where it is, then die.
void on_abort(int signo) {
    char head[96];
    int n = std::snprintf(head, sizeof head, "[%d] backtrace of stuck thread %ld:\n", getpid(),
                          static_cast<long>(syscall(SYS_gettid)));
    if (n > 0) (void)!write(STDERR_FILENO, head, static_cast<size_t>(n));
    void* frames[64];
    int depth = backtrace(frames, 64);
    backtrace_symbols_fd(frames, depth, STDERR_FILENO);
    signal(signo, SIG_DFL);
    raise(signo);
}

void install_abort_backtrace() {
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now: backtrace() may allocate on its first call
    struct sigaction sa {};
    sa.sa_handler = on_abort;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, nullptr);
}

[[noreturn]] void leave(int code) {
    spdlog::shutdown();
    _exit(code);
}

// Logged here, and left in the slot for the master, which names it when a reload fails.
[[noreturn]] void boot_failed(shared::WorkerSlot* slot, int code, const std::string& why) {
    spdlog::critical("{}", why);
    if (slot) slot->set_boot_error(why);
    leave(code);
}

}  // namespace

// Loads the app in this worker (the default, without --preload), or exits with a boot error.
std::unique_ptr<app::Plugin> load_app(const config::Config& config, const app::AppImage& image,
                                      shared::WorkerSlot* slot) {
    auto loaded = app::Plugin::load(image);
    if (auto* err = std::get_if<std::string>(&loaded)) boot_failed(slot, kWorkerAppLoadError, *err);
    auto plugin = std::move(std::get<std::unique_ptr<app::Plugin>>(loaded));
    if (auto err = plugin->init(config.app_args, host_table())) boot_failed(slot, kWorkerAppLoadError, *err);
    if (auto why = boot_failure()) boot_failed(slot, kWorkerAppLoadError, *why);
    return plugin;
}

void run_worker(const config::Config& config, const app::AppImage& image,
                const std::vector<int>& listen_fds, shared::WorkerSlot* slot,
                const sigset_t& master_signals, app::Plugin* preloaded) {
    install_abort_backtrace();
    shared::set_process_title("cppgunicorn: worker [" + config::process_name(config) + "]");
    spdlog::info("Booting worker with pid: {}", getpid());
    auto access = log::open_access_log(config.settings);  // as root: like nginx, logs first
    if (auto* err = std::get_if<std::string>(&access)) boot_failed(slot, kWorkerBootError, *err);
    if (auto err = shared::drop_privileges(config::worker_identity(config.settings)))
        boot_failed(slot, kWorkerBootError,
                    "cannot switch to user '" + config.settings.user + "' / group '" +
                        config.settings.group + "': " + *err);
    open_boot();
    std::unique_ptr<app::Plugin> own = preloaded ? nullptr : load_app(config, image, slot);
    app::Plugin& plugin = preloaded ? *preloaded : *own;
    // The app's own reason (fail_boot: the SDK's exception text) says more than a return code.
    auto err = plugin.worker_start();
    if (auto why = boot_failure()) boot_failed(slot, kWorkerBootError, *why);
    if (err) boot_failed(slot, kWorkerBootError, *err);
    int rc = 0;
    Executor executor(static_cast<size_t>(config.settings.executor_threads),
                              static_cast<size_t>(config.settings.executor_queue));
    set_current_executor(&executor);
    {
        Worker worker(config.settings, plugin, listen_fds,
                              std::get<std::unique_ptr<log::AccessLog>>(access).get(), slot);
        // The loop reads its signals from a signalfd, so they stay blocked in every thread.
        // The master's other signals mean nothing to a worker (and HUP, TTIN, TTOU, USR2
        // would stop or kill it by default): the table says which to ignore.
        shared::set_worker_dispositions();
        sigset_t others = master_signals;
        sigset_t handled = shared::worker_signals();
        for (int sig = 1; sig < NSIG; ++sig)
            if (sigismember(&handled, sig) == 1) sigdelset(&others, sig);
        pthread_sigmask(SIG_UNBLOCK, &others, nullptr);
        rc = worker.run();
    }
    executor.stop();  // after the app threads: their last tasks still run
    set_current_executor(nullptr);
    if (rc == kWorkerBootError) boot_failed(slot, rc, boot_failure().value_or("thread_start failed"));
    plugin.worker_exit();
    if (own) own->shutdown();  // a preloaded app is shut down by the master, at its exit
    spdlog::info("Worker exiting (pid: {})", getpid());
    leave(rc);
}

}  // namespace cppg::worker
